//! Minimal reader/writer for `.npy` files (numpy format 1.0-3.0, C order), as used by the
//! command-line tool, the tests and the benchmarks. Safe Rust, no dependencies.

use h5z_apr::DType;

type Result<T> = std::result::Result<T, String>;

fn invalid(message: impl Into<String>) -> String {
    message.into()
}

/// An array read from a `.npy` file; `data` holds little-endian element bytes in C order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

fn dtype_from_descr(descr: &str) -> Result<(DType, bool)> {
    let (order, code) = descr.split_at(1);
    let big = match order {
        "<" | "|" => false,
        ">" => true,
        _ => return Err(invalid(format!("unsupported npy dtype '{descr}'"))),
    };
    let dt = match code {
        "u1" => DType::U8,
        "i1" => DType::I8,
        "u2" => DType::U16,
        "i2" => DType::I16,
        "u4" => DType::U32,
        "i4" => DType::I32,
        "f4" => DType::F32,
        "f8" => DType::F64,
        _ => return Err(invalid(format!("unsupported npy dtype '{descr}'"))),
    };
    Ok((dt, big))
}

fn field<'a>(header: &'a str, key: &str) -> Result<&'a str> {
    let k = format!("'{key}':");
    let start = header
        .find(&k)
        .ok_or_else(|| invalid(format!("npy header has no '{key}'")))?
        + k.len();
    Ok(header[start..].trim_start())
}

/// The header of a `.npy` file: what follows it is `prod(shape)` elements.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    pub dtype: DType,
    pub big_endian: bool,
    pub shape: Vec<usize>,
    /// Byte offset of the first element.
    pub data_offset: usize,
}

/// Parses the header at the start of `bytes` (which may hold only a prefix of the file).
pub fn parse_header(bytes: &[u8]) -> Result<NpyHeader> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(invalid("not a .npy file (bad magic)"));
    }
    let (hlen, hstart) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(invalid(format!("unsupported .npy version {v}"))),
    };
    let header = bytes
        .get(hstart..hstart + hlen)
        .ok_or_else(|| invalid("truncated .npy header"))?;
    let header = std::str::from_utf8(header).map_err(|_| invalid("non-UTF-8 .npy header"))?;
    let descr = field(header, "descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|s| s.split('\'').next())
        .ok_or_else(|| invalid("bad descr in .npy header"))?;
    let (dtype, big) = dtype_from_descr(descr)?;
    if field(header, "fortran_order")?.starts_with("True") {
        return Err(invalid("Fortran-ordered .npy files are not supported"));
    }
    let shape_s = field(header, "shape")?;
    let shape_s = shape_s
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| invalid("bad shape in .npy header"))?;
    let shape: Vec<usize> = shape_s
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| invalid("bad shape in .npy header"))
        })
        .collect::<Result<_>>()?;
    Ok(NpyHeader {
        dtype,
        big_endian: big,
        shape,
        data_offset: hstart + hlen,
    })
}

/// Parses a `.npy` file image.
pub fn parse(bytes: &[u8]) -> Result<NpyArray> {
    let NpyHeader {
        dtype,
        big_endian: big,
        shape,
        data_offset,
    } = parse_header(bytes)?;
    let n: usize = shape.iter().product();
    let body = &bytes[data_offset..];
    let need = n * dtype.size();
    if body.len() < need {
        return Err(invalid(format!(
            ".npy body has {} bytes, shape needs {need}",
            body.len()
        )));
    }
    let mut data = body[..need].to_vec();
    if big {
        for e in data.chunks_exact_mut(dtype.size()) {
            e.reverse();
        }
    }
    Ok(NpyArray { dtype, shape, data })
}

/// Reads the header of a `.npy` file (not its data).
pub fn read_header(path: &std::path::Path) -> Result<NpyHeader> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)
        .map_err(|e| invalid(format!("cannot open {}: {e}", path.display())))?;
    let mut head = vec![0u8; 12];
    let n = f
        .read(&mut head)
        .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
    head.truncate(n);
    let total = match head.get(6) {
        Some(1) if n >= 10 => 10 + u16::from_le_bytes([head[8], head[9]]) as usize,
        Some(2 | 3) if n >= 12 => {
            12 + u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize
        }
        _ => n.max(12),
    };
    if total > n {
        let mut rest = vec![0u8; total - n];
        f.read_exact(&mut rest)
            .map_err(|_| invalid(format!("{}: truncated .npy header", path.display())))?;
        head.extend_from_slice(&rest);
    }
    parse_header(&head).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a `.npy` file.
pub fn read(path: &std::path::Path) -> Result<NpyArray> {
    let bytes =
        std::fs::read(path).map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
    parse(&bytes)
}

/// Serialises an array as a version-1.0 `.npy` image (little-endian, C order); the tool only
/// reads `.npy`, so this exists for the round-trip test.
#[cfg(test)]
pub fn to_bytes(a: &NpyArray) -> Vec<u8> {
    let code = match a.dtype {
        DType::U8 => "|u1",
        DType::I8 => "|i1",
        DType::U16 => "<u2",
        DType::I16 => "<i2",
        DType::U32 => "<u4",
        DType::I32 => "<i4",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    };
    let dims: Vec<String> = a.shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut h = format!("{{'descr': '{code}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(&a.data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_header() {
        let a = NpyArray {
            dtype: DType::I16,
            shape: vec![2, 3],
            data: (0..12u8).collect(),
        };
        let b = parse(&to_bytes(&a)).unwrap();
        assert_eq!(a, b);
        let c = NpyArray {
            dtype: DType::F64,
            shape: vec![1],
            data: 1.5f64.to_le_bytes().to_vec(),
        };
        assert_eq!(parse(&to_bytes(&c)).unwrap(), c);
        assert!(parse(b"\x93NUMPY\x01\x00\x05\x00{'de").is_err());
    }
}
