//! What the filter reads from HDF5 datatypes and dataspaces: the codec dtype and byte order of
//! a datatype (or why it is unsupported) and the dims of a chunk dataspace.

use super::cd_values::{dtype_from_parts, CLASS_FLOAT, CLASS_INTEGER};
use super::error::{fail, Error as Fail, Minor};
use super::loader::Api;
use super::sys::*;
use crate::codec::DType;

/// What the filter needs to know about an HDF5 datatype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeInfo {
    pub dtype: DType,
    pub big_endian: bool,
}

/// Inspects a datatype; `Err` names why it is not supported.
pub(crate) fn type_info(api: &Api, type_id: hid_t) -> Result<TypeInfo, Fail> {
    // SAFETY: resolved HDF5 functions called with an id the library gave us.
    let (class, size, sign, order, precision, offset) = unsafe {
        (
            (api.t_get_class)(type_id),
            (api.t_get_size)(type_id),
            (api.t_get_sign)(type_id),
            (api.t_get_order)(type_id),
            (api.t_get_precision)(type_id),
            (api.t_get_offset)(type_id),
        )
    };
    let class_name = match class {
        H5T_INTEGER => "integer",
        H5T_FLOAT => "float",
        H5T_TIME => "time",
        H5T_STRING => "string",
        H5T_BITFIELD => "bitfield",
        H5T_OPAQUE => "opaque",
        H5T_COMPOUND => "compound",
        H5T_REFERENCE => "reference",
        H5T_ENUM => "enum",
        H5T_VLEN => "variable-length",
        H5T_ARRAY => "array",
        _ => "unknown",
    };
    const SUPPORTED: &str = "supported: u8, i8, u16, i16, u32, i32, f32, f64 \
                             (little- or big-endian, full precision)";
    let class_code = match class {
        H5T_INTEGER => CLASS_INTEGER,
        H5T_FLOAT => CLASS_FLOAT,
        _ => {
            return fail(
                Minor::BadType,
                format!(
                    "h5z-apr cannot compress {} {class_name} datatype; {SUPPORTED}",
                    if class_name.starts_with(['a', 'e', 'o', 'u']) {
                        "an"
                    } else {
                        "a"
                    }
                ),
            )
        }
    };
    let signed = match (class, sign) {
        (H5T_FLOAT, _) => true,
        (_, H5T_SGN_NONE) => false,
        (_, H5T_SGN_2) => true,
        _ => {
            return fail(
                Minor::BadType,
                format!("h5z-apr: integer sign {sign} unsupported; {SUPPORTED}"),
            )
        }
    };
    let Some(dtype) = dtype_from_parts(class_code, size as u32, signed) else {
        return fail(
            Minor::BadType,
            format!(
                "h5z-apr cannot compress a {size}-byte {}{class_name} datatype; {SUPPORTED}",
                if class == H5T_INTEGER && signed {
                    "signed "
                } else if class == H5T_INTEGER {
                    "unsigned "
                } else {
                    ""
                }
            ),
        );
    };
    if precision != 8 * size || offset != 0 {
        return fail(
            Minor::BadType,
            format!(
                "h5z-apr needs full-precision types; this {} uses {precision} bits at offset {offset}",
                dtype.name()
            ),
        );
    }
    let big_endian = match order {
        H5T_ORDER_LE => false,
        H5T_ORDER_BE => true,
        o => {
            return fail(
                Minor::BadType,
                format!("h5z-apr supports little- and big-endian types only (byte order code {o})"),
            )
        }
    };
    Ok(TypeInfo { dtype, big_endian })
}

/// Chunk dims from a dataspace.
pub(crate) fn space_dims(api: &Api, space_id: hid_t) -> Result<Vec<u64>, Fail> {
    // SAFETY: resolved HDF5 functions; `dims` has room for `n` entries.
    unsafe {
        let n = (api.s_get_ndims)(space_id);
        if n < 0 {
            return fail(
                Minor::CantFilter,
                "h5z-apr: cannot read the chunk dataspace rank",
            );
        }
        let mut dims = vec![0u64; n as usize];
        if n > 0 && (api.s_get_dims)(space_id, dims.as_mut_ptr(), std::ptr::null_mut()) < 0 {
            return fail(Minor::CantFilter, "h5z-apr: cannot read the chunk dims");
        }
        Ok(dims)
    }
}
