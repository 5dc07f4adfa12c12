//! Writing GGUF v3 files: metadata, tensor infos, then tensor data streamed
//! tensor by tensor through a caller's closure, so multi-GB files never sit
//! in memory. A file can also be written as headers only with the data left
//! as a hole (`sparse`), for tests that need huge models on a small disk.

use super::reader::{DEFAULT_ALIGNMENT, MAGIC};
use super::value::Value;
use crate::dtype::ggml::GgmlType;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// A tensor to write.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    /// Name.
    pub name: String,
    /// Dimensions, innermost first.
    pub dims: Vec<u64>,
    /// Element type.
    pub ggml_type: GgmlType,
}

impl TensorSpec {
    /// A tensor spec.
    pub fn new(name: impl Into<String>, dims: &[u64], ggml_type: GgmlType) -> Self {
        TensorSpec {
            name: name.into(),
            dims: dims.to_vec(),
            ggml_type,
        }
    }
    /// Number of elements.
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }
    /// Bytes of data.
    pub fn bytes(&self) -> u64 {
        self.ggml_type.tensor_bytes(self.n_elements())
    }
}

/// A GGUF file in the making.
#[derive(Debug, Clone, Default)]
pub struct GgufWriter {
    /// Metadata in order.
    pub metadata: Vec<(String, Value)>,
    /// Tensors in order.
    pub tensors: Vec<TensorSpec>,
}

fn pad(n: u64, align: u64) -> u64 {
    n.div_ceil(align) * align
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.push(*x as u8),
        Value::U16(x) => out.extend(x.to_le_bytes()),
        Value::I16(x) => out.extend(x.to_le_bytes()),
        Value::U32(x) => out.extend(x.to_le_bytes()),
        Value::I32(x) => out.extend(x.to_le_bytes()),
        Value::F32(x) => out.extend(x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(*x)),
        Value::String(s) => put_str(out, s),
        Value::Array(t, items) => {
            out.extend(t.id().to_le_bytes());
            out.extend((items.len() as u64).to_le_bytes());
            for i in items {
                put_value(out, i);
            }
        }
        Value::U64(x) => out.extend(x.to_le_bytes()),
        Value::I64(x) => out.extend(x.to_le_bytes()),
        Value::F64(x) => out.extend(x.to_le_bytes()),
    }
}

impl GgufWriter {
    /// Add or replace a metadata entry.
    pub fn set(&mut self, key: impl Into<String>, v: Value) {
        let key = key.into();
        match self.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = v,
            None => self.metadata.push((key, v)),
        }
    }

    /// Add a tensor.
    pub fn tensor(&mut self, name: impl Into<String>, dims: &[u64], t: GgmlType) {
        self.tensors.push(TensorSpec::new(name, dims, t));
    }

    fn alignment(&self) -> u64 {
        self.metadata
            .iter()
            .find(|(k, _)| k == "general.alignment")
            .and_then(|(_, v)| v.as_u64())
            .unwrap_or(DEFAULT_ALIGNMENT)
    }

    /// The header bytes (padded to the alignment) and each tensor's offset.
    pub fn header(&self) -> (Vec<u8>, Vec<u64>) {
        let align = self.alignment();
        let mut out = Vec::new();
        out.extend(MAGIC);
        out.extend(3u32.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.metadata.len() as u64).to_le_bytes());
        for (k, v) in &self.metadata {
            put_str(&mut out, k);
            out.extend(v.value_type().id().to_le_bytes());
            put_value(&mut out, v);
        }
        let mut offsets = Vec::with_capacity(self.tensors.len());
        let mut off = 0u64;
        for t in &self.tensors {
            put_str(&mut out, &t.name);
            out.extend((t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                out.extend(d.to_le_bytes());
            }
            out.extend(t.ggml_type.id().to_le_bytes());
            out.extend(off.to_le_bytes());
            offsets.push(off);
            off = pad(off + t.bytes(), align);
        }
        let len = pad(out.len() as u64, align);
        out.resize(len as usize, 0);
        (out, offsets)
    }

    /// Total file size: header plus padded data.
    pub fn file_size(&self) -> u64 {
        let align = self.alignment();
        let (h, _) = self.header();
        h.len() as u64
            + self
                .tensors
                .iter()
                .map(|t| pad(t.bytes(), align))
                .sum::<u64>()
    }

    /// Write the file, asking `fill` for each tensor's data in order. `fill`
    /// must write exactly `spec.bytes()` bytes; padding is added here.
    pub fn write<F>(&self, path: &Path, mut fill: F) -> io::Result<u64>
    where
        F: FnMut(&TensorSpec, &mut dyn Write) -> io::Result<()>,
    {
        let align = self.alignment();
        let (header, _) = self.header();
        let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
        w.write_all(&header)?;
        let mut total = header.len() as u64;
        for t in &self.tensors {
            let mut counted = Counting {
                inner: &mut w,
                n: 0,
            };
            fill(t, &mut counted)?;
            if counted.n != t.bytes() {
                return Err(io::Error::other(format!(
                    "tensor `{}`: wrote {} bytes, expected {}",
                    t.name,
                    counted.n,
                    t.bytes()
                )));
            }
            let padded = pad(t.bytes(), align);
            w.write_all(&vec![0u8; (padded - t.bytes()) as usize])?;
            total += padded;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(total)
    }

    /// Write the header only and extend the file to its full size with a
    /// hole: the result reads like the real model without taking disk space.
    pub fn write_sparse(&self, path: &Path) -> io::Result<u64> {
        let (header, _) = self.header();
        let size = self.file_size();
        let mut f = File::create(path)?;
        f.write_all(&header)?;
        f.set_len(size)?;
        Ok(size)
    }
}

impl GgufWriter {
    /// Split into `n` shards the way `llama-gguf-split` does: the first
    /// shard keeps all metadata, every shard gets `split.no`, `split.count`
    /// and `split.tensors.count`, tensors are dealt out in order.
    pub fn split(&self, n: u16) -> Vec<GgufWriter> {
        let n = n.max(1) as usize;
        let per = self.tensors.len().div_ceil(n).max(1);
        (0..n)
            .map(|i| {
                let mut w = GgufWriter::default();
                if i == 0 {
                    w.metadata = self.metadata.clone();
                } else if let Some((_, a)) =
                    self.metadata.iter().find(|(k, _)| k == "general.alignment")
                {
                    w.set("general.alignment", a.clone());
                }
                w.set("split.no", Value::U16(i as u16));
                w.set("split.count", Value::U16(n as u16));
                w.set("split.tensors.count", Value::I32(self.tensors.len() as i32));
                w.tensors = self
                    .tensors
                    .iter()
                    .skip(i * per)
                    .take(per)
                    .cloned()
                    .collect();
                w
            })
            .collect()
    }
}

struct Counting<'a, W: Write> {
    inner: &'a mut W,
    n: u64,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::reader::GgufFile;
    use super::super::value::ValueType;
    use super::*;

    #[test]
    fn header_round_trips_through_the_reader() {
        let mut w = GgufWriter::default();
        w.set("general.architecture", Value::String("llama".into()));
        w.set(
            "x.nested",
            Value::Array(
                ValueType::Array,
                vec![Value::Array(ValueType::I8, vec![Value::I8(-1)])],
            ),
        );
        w.tensor("a", &[64, 2], GgmlType::Q8_0);
        w.tensor("b", &[7], GgmlType::F32);
        let (mut bytes, offsets) = w.header();
        assert_eq!(offsets, vec![0, 160]);
        bytes.resize(w.file_size() as usize, 0);
        let f = GgufFile::from_bytes(&bytes, Path::new("t.gguf")).unwrap();
        assert_eq!(f.metadata, w.metadata);
        assert_eq!(f.tensors[0].bytes, 136);
        assert_eq!(f.tensors[1].offset, 160);
        assert_eq!(f.data_offset, w.header().0.len() as u64);
    }
}
