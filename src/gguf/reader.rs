//! Reading GGUF headers (versions 2 and 3): magic, metadata and tensor infos,
//! never tensor data. A model split into `NAME-00001-of-0000N.gguf` shards is
//! read as one model from any shard's path.
//!
//! Every length or count the file claims is checked against the bytes left
//! in the file (and against fixed caps) before anything is allocated for it,
//! so a corrupt or hostile header costs at most its own size in memory.

use super::value::{Value, ValueType};
use super::GgufError;
use crate::dtype::ggml::GgmlType;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// `GGUF` in file order.
pub const MAGIC: [u8; 4] = *b"GGUF";
/// Default tensor-data alignment (`GGUF_DEFAULT_ALIGNMENT`).
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Longest string accepted (chat templates are ~100 KiB; vocab entries tiny).
pub const MAX_STRING_BYTES: u64 = 16 << 20;
/// Most elements accepted in one metadata array (vocabularies are < 1M).
pub const MAX_ARRAY_LEN: u64 = 1 << 23;
/// Deepest nesting of arrays accepted.
pub const MAX_ARRAY_DEPTH: u32 = 8;
/// Most dimensions of a tensor (`GGML_MAX_DIMS`).
pub const MAX_DIMS: u32 = 4;

/// One tensor's header entry.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions, innermost first (ggml `ne`).
    pub dims: Vec<u64>,
    /// Element type.
    pub ggml_type: GgmlType,
    /// Offset of the data from the start of its file's data section, bytes.
    pub offset: u64,
    /// Number of elements.
    pub n_elements: u64,
    /// Exact bytes of the data (`n_elements / block_size * type_size`).
    pub bytes: u64,
    /// Index of the shard holding it (0 for single files).
    pub shard: usize,
}

/// One parsed GGUF file (one shard).
#[derive(Debug, Clone)]
pub struct GgufFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Format version (2 or 3).
    pub version: u32,
    /// Tensor data alignment, bytes.
    pub alignment: u64,
    /// Metadata in file order.
    pub metadata: Vec<(String, Value)>,
    /// Tensor infos in file order.
    pub tensors: Vec<TensorInfo>,
    /// Byte offset where tensor data starts.
    pub data_offset: u64,
    /// File size, bytes.
    pub file_size: u64,
}

/// A model: one file, or all shards of a split model.
#[derive(Debug, Clone)]
pub struct GgufModel {
    /// The path the user gave.
    pub path: PathBuf,
    /// Shards in order (one entry for an unsplit file).
    pub shards: Vec<GgufFile>,
}

impl GgufFile {
    /// Value of a metadata key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Read the header of one file (tensor data is never read).
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let io = |source| GgufError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Self::parse(BufReader::with_capacity(1 << 16, file), len, path)
    }

    /// Parse a header from memory (tests, fuzzing).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, GgufError> {
        Self::parse(bytes, bytes.len() as u64, path)
    }

    /// Parse a header from `r`, a stream of `len` bytes.
    pub fn parse<R: Read>(r: R, len: u64, path: &Path) -> Result<Self, GgufError> {
        let mut c = Cursor {
            r,
            pos: 0,
            len,
            path,
        };
        let mut magic = [0u8; 4];
        c.fill(&mut magic, "the magic")?;
        if magic != MAGIC {
            return Err(c.bad(
                format!("does not start with `GGUF` (found {:02x?})", magic),
                "this is not a GGUF model file",
            ));
        }
        let version = c.u32("the version")?;
        if version != 2 && version != 3 {
            let hint = if version == 1 {
                "GGUF v1 files are no longer supported by llama.cpp; convert the model again"
            } else if version.swap_bytes() == 2 || version.swap_bytes() == 3 {
                "this looks like a big-endian GGUF, which rooftune does not read"
            } else {
                "rooftune reads GGUF versions 2 and 3"
            };
            return Err(c.bad(format!("has unknown GGUF version {version}"), hint));
        }
        let n_tensors = c.u64("the tensor count")?;
        let n_kv = c.u64("the metadata count")?;
        // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes;
        // a tensor info at least 8 + 4 + 8 + 4 + 8.
        c.check_count(n_kv, 13, "metadata entries")?;
        c.check_count(n_tensors, 32, "tensor infos")?;

        let mut metadata = Vec::with_capacity(n_kv.min(1024) as usize);
        for i in 0..n_kv {
            let key = c.string(&format!("the key of metadata entry {i}"))?;
            let t = c.u32(&format!("the type of `{key}`"))?;
            let vt = ValueType::from_id(t).ok_or_else(|| {
                c.bad(
                    format!("has unknown value type {t} for `{key}`"),
                    HINT_CORRUPT,
                )
            })?;
            let v = c.value(vt, &key, 0)?;
            metadata.push((key, v));
        }
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            Some((_, v)) => match v.as_u64() {
                Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a,
                _ => {
                    return Err(c.bad(
                        format!("has invalid general.alignment {}", v.summary()),
                        "alignment must be a power of two",
                    ))
                }
            },
            None => DEFAULT_ALIGNMENT,
        };

        let mut tensors = Vec::with_capacity(n_tensors.min(4096) as usize);
        for i in 0..n_tensors {
            tensors.push(c.tensor_info(i, alignment)?);
        }
        let data_offset = c.pos.div_ceil(alignment) * alignment;
        let file = GgufFile {
            path: path.to_path_buf(),
            version,
            alignment,
            metadata,
            tensors,
            data_offset,
            file_size: len,
        };
        file.check_extents()?;
        Ok(file)
    }

    /// Every tensor's data must lie inside the file.
    fn check_extents(&self) -> Result<(), GgufError> {
        // All tensors together need about this many bytes of data; a tensor
        // that claims an offset beyond them has a damaged header, while a
        // file that ends inside the data was cut short.
        let needed: u64 = self
            .tensors
            .iter()
            .map(|t| t.bytes.saturating_add(64))
            .fold(0u64, u64::saturating_add);
        for t in &self.tensors {
            if t.offset > needed {
                return Err(GgufError::Malformed {
                    path: self.path.clone(),
                    what: format!(
                        "has a damaged header: tensor `{}` ends at byte {}, but its offset {} is beyond the {} bytes all the tensors need",
                        one_line(&t.name),
                        self.data_offset
                            .saturating_add(t.offset)
                            .saturating_add(t.bytes),
                        t.offset,
                        needed
                    ),
                    hint: HINT_HEADER,
                });
            }
        }
        for t in &self.tensors {
            let end = self
                .data_offset
                .checked_add(t.offset)
                .and_then(|s| s.checked_add(t.bytes));
            match end {
                Some(e) if e <= self.file_size => {}
                None => {
                    return Err(GgufError::Malformed {
                        path: self.path.clone(),
                        what: format!(
                            "is damaged: tensor `{}` claims an offset past 2^64 bytes",
                            one_line(&t.name)
                        ),
                        hint: HINT_HEADER,
                    })
                }
                Some(e) => {
                    return Err(GgufError::Malformed {
                        path: self.path.clone(),
                        what: format!(
                            "is truncated: tensor `{}` ends at byte {} but the file has {} bytes",
                            one_line(&t.name),
                            e,
                            self.file_size
                        ),
                        hint: HINT_TRUNCATED,
                    })
                }
            }
        }
        Ok(())
    }
}

/// Escape control characters (a corrupt key may hold newlines) so an error stays one line.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

const HINT_TRUNCATED: &str =
    "the download may be incomplete; compare the file size with the source";
const HINT_CORRUPT: &str = "the file is damaged or not a GGUF model";
const HINT_DAMAGED: &str = "the download may be incomplete, or the file is damaged";
const HINT_HEADER: &str = "the file's header is corrupt: download or convert the model again";

struct Cursor<'p, R> {
    r: R,
    pos: u64,
    len: u64,
    path: &'p Path,
}

impl<R: Read> Cursor<'_, R> {
    fn bad(&self, what: String, hint: &'static str) -> GgufError {
        GgufError::Malformed {
            path: self.path.to_path_buf(),
            what: one_line(&what),
            hint,
        }
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn fill(&mut self, buf: &mut [u8], what: &str) -> Result<(), GgufError> {
        if (buf.len() as u64) > self.remaining() {
            return Err(self.truncated(what));
        }
        match self.r.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(self.truncated(what)),
            Err(source) => Err(GgufError::Io {
                path: self.path.to_path_buf(),
                source,
            }),
        }
    }

    fn truncated(&self, what: &str) -> GgufError {
        self.bad(
            format!("is truncated at byte {} while reading {what}", self.len),
            HINT_TRUNCATED,
        )
    }

    fn check_count(&self, n: u64, min_bytes: u64, what: &str) -> Result<(), GgufError> {
        if n.saturating_mul(min_bytes) > self.remaining() {
            return Err(self.bad(
                format!(
                    "is truncated or damaged: it claims {n} {what} at byte {} but only {} bytes follow",
                    self.pos,
                    self.remaining()
                ),
                HINT_DAMAGED,
            ));
        }
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], GgufError> {
        let mut b = [0u8; N];
        self.fill(&mut b, what)?;
        Ok(b)
    }

    fn u32(&mut self, what: &str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String, GgufError> {
        let at = self.pos;
        let n = self.u64(what)?;
        if n > self.remaining() {
            return Err(self.bad(
                format!("is truncated or damaged: a string of {n} bytes at byte {at} ({what}) is longer than the rest of the file"),
                HINT_DAMAGED,
            ));
        }
        if n > MAX_STRING_BYTES {
            return Err(self.bad(
                format!(
                    "has a string of {n} bytes at byte {at} ({what}), longer than the 16 MiB limit"
                ),
                HINT_CORRUPT,
            ));
        }
        let mut buf = vec![0u8; n as usize];
        self.fill(&mut buf, what)?;
        Ok(match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn value(&mut self, t: ValueType, key: &str, depth: u32) -> Result<Value, GgufError> {
        Ok(match t {
            ValueType::U8 => Value::U8(self.array::<1>(key)?[0]),
            ValueType::I8 => Value::I8(self.array::<1>(key)?[0] as i8),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array(key)?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array(key)?)),
            ValueType::U32 => Value::U32(self.u32(key)?),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array(key)?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array(key)?)),
            ValueType::Bool => {
                let b = self.array::<1>(key)?[0];
                if b > 1 {
                    return Err(self.bad(
                        format!("has bool value {b} for `{key}` (must be 0 or 1)"),
                        HINT_CORRUPT,
                    ));
                }
                Value::Bool(b == 1)
            }
            ValueType::String => Value::String(self.string(key)?),
            ValueType::U64 => Value::U64(self.u64(key)?),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array(key)?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array(key)?)),
            ValueType::Array => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(self.bad(
                        format!("nests arrays deeper than {MAX_ARRAY_DEPTH} levels in `{key}`"),
                        HINT_CORRUPT,
                    ));
                }
                let et = self.u32(key)?;
                let et = ValueType::from_id(et).ok_or_else(|| {
                    self.bad(
                        format!("has unknown array element type {et} in `{key}`"),
                        HINT_CORRUPT,
                    )
                })?;
                let n = self.u64(key)?;
                if n > MAX_ARRAY_LEN {
                    return Err(self.bad(
                        format!("claims {n} elements in array `{key}`, more than the {MAX_ARRAY_LEN} limit"),
                        HINT_CORRUPT,
                    ));
                }
                self.check_count(n, et.min_bytes(), &format!("elements in array `{key}`"))?;
                let mut v = Vec::with_capacity(n.min(1 << 16) as usize);
                for _ in 0..n {
                    v.push(self.value(et, key, depth + 1)?);
                }
                Value::Array(et, v)
            }
        })
    }

    fn tensor_info(&mut self, i: u64, alignment: u64) -> Result<TensorInfo, GgufError> {
        let name = self.string(&format!("the name of tensor {i}"))?;
        let n_dims = self.u32(&format!("tensor `{name}`"))?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(self.bad(
                format!("gives tensor `{name}` {n_dims} dimensions (1 to {MAX_DIMS} allowed)"),
                HINT_CORRUPT,
            ));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(self.u64(&format!("tensor `{name}`"))?);
        }
        let type_id = self.u32(&format!("tensor `{name}`"))?;
        let offset = self.u64(&format!("tensor `{name}`"))?;
        let ggml_type = GgmlType::from_id(type_id).ok_or_else(|| {
            self.bad(
                format!("gives tensor `{name}` unknown ggml type id {type_id}"),
                "the file may need a newer rooftune (or llama.cpp) build",
            )
        })?;
        let n_elements = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n < 1 << 60)
            .ok_or_else(|| {
                self.bad(
                    format!("gives tensor `{name}` an impossible shape {dims:?}"),
                    HINT_CORRUPT,
                )
            })?;
        if dims[0] % ggml_type.block_size() != 0 {
            return Err(self.bad(
                format!(
                    "gives tensor `{name}` a row of {} elements, not a multiple of the {ggml_type} block size {}",
                    dims[0],
                    ggml_type.block_size()
                ),
                HINT_CORRUPT,
            ));
        }
        if offset % alignment != 0 {
            return Err(self.bad(
                format!("gives tensor `{name}` offset {offset}, not a multiple of the alignment {alignment}"),
                HINT_CORRUPT,
            ));
        }
        Ok(TensorInfo {
            bytes: ggml_type.tensor_bytes(n_elements),
            name,
            dims,
            ggml_type,
            offset,
            n_elements,
            shard: 0,
        })
    }
}

/// `NAME-00003-of-00007.gguf` -> (`NAME`, 3, 7).
pub fn split_parts(path: &Path) -> Option<(String, u32, u32)> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".gguf")?;
    let (rest, count) = stem.rsplit_once("-of-")?;
    let (prefix, no) = rest.rsplit_once('-')?;
    if no.len() != 5 || count.len() != 5 {
        return None;
    }
    let no: u32 = no.parse().ok()?;
    let count: u32 = count.parse().ok()?;
    (no >= 1 && no <= count).then(|| (prefix.to_string(), no, count))
}

/// Path of shard `no` (1-based) of `count` next to `path`.
pub fn shard_path(path: &Path, prefix: &str, no: u32, count: u32) -> PathBuf {
    path.with_file_name(format!("{prefix}-{no:05}-of-{count:05}.gguf"))
}

impl GgufModel {
    /// Read a model from a file or from any shard of a split model.
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let Some((prefix, _, count)) = split_parts(path) else {
            return Ok(GgufModel {
                path: path.to_path_buf(),
                shards: vec![GgufFile::open(path)?],
            });
        };
        let mut shards = Vec::with_capacity(count as usize);
        for no in 1..=count {
            let p = shard_path(path, &prefix, no, count);
            if !p.exists() {
                return Err(GgufError::Malformed {
                    path: path.to_path_buf(),
                    what: format!(
                        "is shard of a {count}-file split model, but shard {no} `{}` is missing",
                        p.display()
                    ),
                    hint: "put all shards in one directory",
                });
            }
            let mut f = GgufFile::open(&p)?;
            for t in &mut f.tensors {
                t.shard = (no - 1) as usize;
            }
            shards.push(f);
        }
        let declared = shards[0].get("split.count").and_then(Value::as_u64);
        if declared.is_some_and(|d| d != count as u64) {
            return Err(GgufError::Malformed {
                path: path.to_path_buf(),
                what: format!(
                    "says split.count = {} but its name says {count} shards",
                    declared.unwrap_or(0)
                ),
                hint: "the shards were renamed; restore their original names",
            });
        }
        Ok(GgufModel {
            path: path.to_path_buf(),
            shards,
        })
    }

    /// A metadata value (from the first shard, which holds the model's keys).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.shards.iter().find_map(|s| s.get(key))
    }

    /// Metadata of the first shard in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.shards[0].metadata
    }

    /// Every tensor of every shard.
    pub fn tensors(&self) -> impl Iterator<Item = &TensorInfo> {
        self.shards.iter().flat_map(|s| s.tensors.iter())
    }

    /// Bytes of all shards on disk.
    pub fn file_bytes(&self) -> u64 {
        self.shards.iter().map(|s| s.file_size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_names() {
        assert_eq!(
            split_parts(Path::new("/m/GLM-5-UD-Q4_K_XL-00003-of-00007.gguf")),
            Some(("GLM-5-UD-Q4_K_XL".into(), 3, 7))
        );
        assert_eq!(split_parts(Path::new("model.gguf")), None);
        assert_eq!(split_parts(Path::new("m-00008-of-00007.gguf")), None);
        assert_eq!(
            shard_path(Path::new("/m/a-00003-of-00007.gguf"), "a", 1, 7),
            PathBuf::from("/m/a-00001-of-00007.gguf")
        );
    }

    #[test]
    fn rejects_bad_magic_and_version() {
        let p = Path::new("x.gguf");
        let e = GgufFile::from_bytes(b"GGML\x03\0\0\0", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.gguf") && e.contains("GGUF"), "{e}");
        let e = GgufFile::from_bytes(b"GGUF\x07\0\0\0", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 7"), "{e}");
        let e = GgufFile::from_bytes(b"GGUF\x03\0", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn huge_claimed_counts_fail_before_allocating() {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(u64::MAX.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        let e = GgufFile::from_bytes(&b, Path::new("x.gguf"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tensor infos"), "{e}");
    }
}
