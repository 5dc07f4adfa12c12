//! The safetensors format: an 8-byte little-endian header length, a JSON
//! header (`name -> {dtype, shape, data_offsets}` plus `__metadata__`), then
//! the raw tensor bytes. Source: huggingface/safetensors `README.md`.
//!
//! Reading takes the header only; writing streams each tensor's bytes from a
//! callback, so a model of any size is written without holding it in memory.

use super::{io, MlxError};
use serde_json::{json, Map, Value};
use std::io::{Read, Write};
use std::path::Path;

/// Headers above this size are refused (real ones are well under 10 MB).
const MAX_HEADER_BYTES: u64 = 100 << 20;

/// One tensor of a safetensors header.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Tensor name (`model.layers.0.self_attn.q_proj.weight`).
    pub name: String,
    /// Element type as the file spells it (`F32`, `BF16`, `U32`).
    pub dtype: String,
    /// Dimensions, outermost first.
    pub shape: Vec<u64>,
    /// Bytes of its data.
    pub bytes: u64,
    /// Where its data starts, bytes from the start of the file.
    pub file_offset: u64,
}

impl TensorInfo {
    /// Number of stored elements.
    pub fn elements(&self) -> u64 {
        self.shape.iter().product()
    }
}

/// Bytes of one element of a safetensors dtype, None for unknown ones.
pub fn dtype_bytes(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 1,
        _ => return None,
    })
}

/// The tensors of one safetensors file, in header order.
pub fn read_header(path: &Path) -> Result<Vec<TensorInfo>, MlxError> {
    let malformed = |what: String| MlxError::Malformed {
        path: path.to_path_buf(),
        what,
        hint: "the file may be truncated or not a safetensors file; download or convert it again",
    };
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let file_len = f.metadata().map_err(io(path))?.len();
    let mut len = [0u8; 8];
    f.read_exact(&mut len)
        .map_err(|_| malformed("is shorter than its 8-byte header length".into()))?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER_BYTES || n + 8 > file_len {
        return Err(malformed(format!(
            "declares a {n}-byte header in a {file_len}-byte file"
        )));
    }
    let mut text = vec![0u8; n as usize];
    f.read_exact(&mut text).map_err(io(path))?;
    let v: Value = serde_json::from_slice(&text)
        .map_err(|e| malformed(format!("has a header that is not JSON ({e})")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| malformed("has a header that is not a JSON object".into()))?;
    let data_len = file_len - 8 - n;
    let mut out = Vec::new();
    for (name, t) in obj.iter().filter(|(k, _)| *k != "__metadata__") {
        let dtype = t.get("dtype").and_then(Value::as_str).unwrap_or("");
        let shape: Option<Vec<u64>> = t
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect());
        let offs: Option<Vec<u64>> = t
            .get("data_offsets")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect());
        let (Some(shape), Some(offs)) = (shape, offs) else {
            return Err(malformed(format!(
                "has tensor `{name}` without shape or data_offsets"
            )));
        };
        let (start, end) = match offs[..] {
            [s, e] if s <= e && e <= data_len => (s, e),
            _ => {
                return Err(malformed(format!(
                    "has tensor `{name}` whose data lies outside the file"
                )))
            }
        };
        out.push(TensorInfo {
            name: name.clone(),
            dtype: dtype.to_string(),
            shape,
            bytes: end - start,
            file_offset: 8 + n + start,
        });
    }
    Ok(out)
}

/// A tensor to write: name, dtype and shape; its bytes come from a callback.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    /// Tensor name.
    pub name: String,
    /// Safetensors dtype (`F32`).
    pub dtype: &'static str,
    /// Dimensions, outermost first.
    pub shape: Vec<u64>,
}

impl TensorSpec {
    /// Bytes of its data.
    pub fn bytes(&self) -> u64 {
        self.shape.iter().product::<u64>() * dtype_bytes(self.dtype).unwrap_or(1)
    }
}

/// Write `tensors` to `path` with `metadata`; `fill` writes each tensor's
/// bytes (exactly [`TensorSpec::bytes`] of them). Returns the file size.
pub fn write(
    path: &Path,
    tensors: &[TensorSpec],
    metadata: &[(&str, &str)],
    mut fill: impl FnMut(&TensorSpec, &mut dyn Write) -> std::io::Result<()>,
) -> Result<u64, MlxError> {
    let mut header = Map::new();
    let meta: Map<String, Value> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    header.insert("__metadata__".into(), Value::Object(meta));
    let mut offset = 0u64;
    for t in tensors {
        let end = offset + t.bytes();
        header.insert(
            t.name.clone(),
            json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut text =
        serde_json::to_vec(&Value::Object(header)).map_err(|e| MlxError::Synth(e.to_string()))?;
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let file = std::fs::File::create(path).map_err(io(path))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    w.write_all(&(text.len() as u64).to_le_bytes())
        .and_then(|_| w.write_all(&text))
        .map_err(io(path))?;
    for t in tensors {
        fill(t, &mut w).map_err(io(path))?;
    }
    w.flush().map_err(io(path))?;
    Ok(8 + text.len() as u64 + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_the_header() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("m.safetensors");
        let specs = vec![
            TensorSpec {
                name: "a.weight".into(),
                dtype: "F32",
                shape: vec![3, 2],
            },
            TensorSpec {
                name: "b".into(),
                dtype: "F16",
                shape: vec![5],
            },
        ];
        let n = write(&p, &specs, &[("format", "mlx")], |s, w| {
            w.write_all(&vec![0u8; s.bytes() as usize])
        })
        .unwrap();
        assert_eq!(n, std::fs::metadata(&p).unwrap().len());
        let h = read_header(&p).unwrap();
        let a = h.iter().find(|t| t.name == "a.weight").unwrap();
        assert_eq!(
            (a.dtype.as_str(), a.shape.clone(), a.bytes),
            ("F32", vec![3, 2], 24)
        );
        assert_eq!(h.iter().find(|t| t.name == "b").unwrap().bytes, 10);
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_panic() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.safetensors");
        std::fs::write(&p, [1, 2, 3]).unwrap();
        assert!(read_header(&p).unwrap_err().to_string().contains("shorter"));
        std::fs::write(&p, 1_000_000u64.to_le_bytes()).unwrap();
        assert!(read_header(&p).unwrap_err().to_string().contains("header"));
        let mut b = 4u64.to_le_bytes().to_vec();
        b.extend(b"nope");
        std::fs::write(&p, b).unwrap();
        assert!(read_header(&p)
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
    }
}
