//! `h5z-apr cd-values`: settings <-> the filter's user cd_values (h5py `compression_opts`,
//! h5repack `-f UD=47815,0,<n>,<c1>,...`). Layout: cd[0] mode (0 lossless, 1 abs, 2 apr,
//! 3 noise, 4 apr-particles),
//! value = cd[1] x 10^-cd[2], optional cd[3] effort 1..=22 (default 3).

use crate::args::{CdArgs, ModeArg, Setting};
use h5z_apr::codec::AprCoding;
use h5z_apr::settings::{Settings, UserParams};
use h5z_apr::{Mode, FILTER_ID};

/// User cd_values of an eval setting (effort slot only when not the default).
pub fn for_setting(s: &Setting) -> Result<Vec<u32>, String> {
    s.settings()
        .cd_values()
        .map_err(|e| format!("{}: {}", s.label(), e.message()))
}

/// `(1, 5, 1)`; a single value gets Python's trailing comma.
pub fn py_tuple(cd: &[u32]) -> String {
    let s: Vec<String> = cd.iter().map(|c| c.to_string()).collect();
    if cd.len() == 1 {
        format!("({},)", s[0])
    } else {
        format!("({})", s.join(", "))
    }
}

/// `UD=47815,0,<n>,<c1>,...` (flag 0 = mandatory filter).
pub fn h5repack_arg(cd: &[u32]) -> String {
    let mut s = format!("UD={FILTER_ID},0,{}", cd.len());
    for c in cd {
        s += &format!(",{c}");
    }
    s
}

/// Parses "1,5,4", "(1, 5, 4)", "[1 5 4]" or an h5repack "UD=47815,0,3,1,5,4" (optionally
/// with a leading "-f").
pub fn parse_list(text: &str) -> Result<Vec<u32>, String> {
    let t = text.trim();
    let t = t.strip_prefix("-f").unwrap_or(t).trim();
    let (t, ud) = match t.strip_prefix("UD=") {
        Some(r) => (r, true),
        None => (t, false),
    };
    let t = t.trim_matches(|c| matches!(c, '(' | ')' | '[' | ']' | ' '));
    let vals: Vec<u32> = t
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u32>()
                .map_err(|_| format!("'{s}' is not an unsigned 32-bit integer"))
        })
        .collect::<Result<_, _>>()?;
    if !ud {
        return Ok(vals);
    }
    match vals.as_slice() {
        [id, _flag, n, rest @ ..] if *id == FILTER_ID => {
            if *n as usize != rest.len() {
                Err(format!("UD= says {n} values but {} follow", rest.len()))
            } else {
                Ok(rest.to_vec())
            }
        }
        [id, ..] if *id != FILTER_ID => Err(format!("filter id {id} is not {FILTER_ID}")),
        _ => Err("UD= needs <id>,<flag>,<n>,<values...>".into()),
    }
}

/// Meaning of user cd_values, as (mode, apr coding, effort), through the plugin's own parser.
pub fn decode(cd: &[u32]) -> Result<(Mode, AprCoding, u32), String> {
    let p = UserParams::parse(cd).map_err(|e| e.message().to_string())?;
    let cfg = p.config();
    Ok((cfg.mode, cfg.apr_coding, p.effort))
}

fn mode_text(m: Mode, coding: AprCoding) -> String {
    match m {
        Mode::Apr(e) if coding == AprCoding::Particles => format!(
            "apr-particles, rel_error E = {e} (LibAPR's particle cells, format version 2; \
             |err| <= E*sigma_local is not guaranteed at every pixel)"
        ),
        Mode::Lossless => "lossless".into(),
        Mode::Abs(b) => format!("abs, bound {b}"),
        Mode::Apr(e) => format!("apr, rel_error E = {e}"),
        Mode::Noise(k) => format!("noise, |err| <= k*sigma(I) with k = {k} (format version 3)"),
    }
}

/// Errors of `cd-values`: bad arguments are usage errors (exit code 2).
pub enum CdError {
    Usage(String),
}

fn parse_decimal_arg(flag: &str, s: &str) -> Result<f64, CdError> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| CdError::Usage(format!("{flag}: '{s}' is not a number")))
}

/// Runs the subcommand; returns the text to print.
pub fn run(a: &CdArgs) -> Result<String, CdError> {
    let cd = if let Some(text) = &a.decode {
        parse_list(text).map_err(CdError::Usage)?
    } else {
        let mode = a.mode.expect("clap: --mode required without --decode");
        let (mode, flag) = match mode {
            ModeArg::Lossless => {
                if a.bound.is_some() || a.rel_error.is_some() || a.k.is_some() {
                    return Err(CdError::Usage(
                        "--mode lossless takes no --bound/--rel-error/--k".into(),
                    ));
                }
                (Mode::Lossless, "--mode")
            }
            ModeArg::Abs => {
                let b = a
                    .bound
                    .as_deref()
                    .ok_or_else(|| CdError::Usage("--mode abs needs --bound B".into()))?;
                if a.rel_error.is_some() {
                    return Err(CdError::Usage(
                        "--rel-error is only used with --mode apr".into(),
                    ));
                }
                if a.k.is_some() {
                    return Err(CdError::Usage("--k is only used with --mode noise".into()));
                }
                (Mode::Abs(parse_decimal_arg("--bound", b)?), "--bound")
            }
            ModeArg::Apr | ModeArg::AprParticles => {
                let name = if mode == ModeArg::Apr {
                    "apr"
                } else {
                    "apr-particles"
                };
                let x = a
                    .rel_error
                    .as_deref()
                    .ok_or_else(|| CdError::Usage(format!("--mode {name} needs --rel-error E")))?;
                if a.bound.is_some() {
                    return Err(CdError::Usage(
                        "--bound is only used with --mode abs".into(),
                    ));
                }
                if a.k.is_some() {
                    return Err(CdError::Usage("--k is only used with --mode noise".into()));
                }
                (
                    Mode::Apr(parse_decimal_arg("--rel-error", x)?),
                    "--rel-error",
                )
            }
            ModeArg::Noise => {
                let x =
                    a.k.as_deref()
                        .ok_or_else(|| CdError::Usage("--mode noise needs --k K".into()))?;
                if a.bound.is_some() || a.rel_error.is_some() {
                    return Err(CdError::Usage(
                        "--mode noise takes --k, not --bound/--rel-error".into(),
                    ));
                }
                (Mode::Noise(parse_decimal_arg("--k", x)?), "--k")
            }
        };
        let mut settings = Settings::new(mode, a.effort.map(|e| e as i32));
        if a.mode == Some(ModeArg::AprParticles) {
            settings.apr_coding = AprCoding::Particles;
        }
        let cd = settings
            .cd_values()
            .map_err(|e| CdError::Usage(format!("{flag}: {}", e.message())))?;
        // Printed in the shortest form h5py users type: lossless without effort is `(0,)`.
        if mode == Mode::Lossless && settings.effort.is_none() {
            vec![0]
        } else {
            cd
        }
    };
    let (mode, coding, effort) = decode(&cd).map_err(CdError::Usage)?;
    if a.json {
        let name = crate::args::mode_name(mode, coding);
        let v = match mode {
            Mode::Lossless => "null".to_string(),
            Mode::Abs(x) | Mode::Apr(x) | Mode::Noise(x) => x.to_string(),
        };
        let list: Vec<String> = cd.iter().map(|c| c.to_string()).collect();
        return Ok(format!(
            "{{\"cd_values\":[{}],\"mode\":\"{name}\",\"value\":{v},\"effort\":{effort},\
             \"h5py_compression\":{FILTER_ID},\"h5repack\":{}}}\n",
            list.join(","),
            crate::report::jstr(&format!("-f {}", h5repack_arg(&cd)))
        ));
    }
    Ok(format!(
        "# {}, effort {effort}\n\
         cd_values: {}\n\
         h5py:      compression={FILTER_ID}, compression_opts={}\n\
         h5repack:  -f {}\n",
        mode_text(mode, coding),
        cd.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(","),
        py_tuple(&cd),
        h5repack_arg(&cd)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_the_plugin_parser() {
        for (mode, effort) in [
            (Mode::Lossless, 3),
            (Mode::Abs(0.5), 3),
            (Mode::Abs(4.0), 9),
            (Mode::Abs(0.0005), 3),
            (Mode::Apr(0.1), 1),
            (Mode::Apr(0.25), 22),
        ] {
            let s = Setting::new(mode, effort);
            let cd = for_setting(&s).unwrap();
            assert_eq!(
                decode(&cd),
                Ok((mode, AprCoding::Pointwise, effort as u32)),
                "{cd:?}"
            );
        }
        assert_eq!(
            for_setting(&Setting::new(Mode::Abs(0.5), 3)),
            Ok(vec![1, 5, 1])
        );
    }

    #[test]
    fn list_forms() {
        assert_eq!(parse_list("1,5,4"), Ok(vec![1, 5, 4]));
        assert_eq!(parse_list("(1, 5, 4)"), Ok(vec![1, 5, 4]));
        assert_eq!(parse_list("-f UD=47815,0,3,1,5,4"), Ok(vec![1, 5, 4]));
        assert!(parse_list("UD=47815,0,2,1,5,4").is_err());
        assert!(parse_list("UD=32001,0,1,1").is_err());
        assert!(parse_list("1,x").is_err());
        assert_eq!(h5repack_arg(&[1, 5, 4]), "UD=47815,0,3,1,5,4");
        assert_eq!(py_tuple(&[0]), "(0,)");
    }

    #[test]
    fn decode_contract_examples() {
        assert_eq!(
            decode(&[1, 4, 0]),
            Ok((Mode::Abs(4.0), AprCoding::Pointwise, 3))
        );
        assert_eq!(
            decode(&[2, 1, 1]),
            Ok((Mode::Apr(0.1), AprCoding::Pointwise, 3))
        );
        assert_eq!(
            decode(&[1, 5, 4]),
            Ok((Mode::Abs(0.0005), AprCoding::Pointwise, 3))
        );
        assert_eq!(
            decode(&[1, 5, 1, 9]),
            Ok((Mode::Abs(0.5), AprCoding::Pointwise, 9))
        );
        assert_eq!(decode(&[0]), Ok((Mode::Lossless, AprCoding::Pointwise, 3)));
        assert_eq!(
            decode(&[3]),
            Ok((Mode::Noise(0.5), AprCoding::Pointwise, 3))
        );
        assert_eq!(
            decode(&[3, 5, 1]),
            Ok((Mode::Noise(0.5), AprCoding::Pointwise, 3))
        );
        assert_eq!(
            decode(&[4, 2, 1]),
            Ok((Mode::Apr(0.2), AprCoding::Particles, 3))
        );
        assert!(decode(&[5]).is_err());
        assert!(decode(&[1, 5, 1, 23]).is_err());
    }
}
