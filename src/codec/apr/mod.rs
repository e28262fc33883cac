//! The Adaptive Particle Representation pipeline (LibAPR semantics).
