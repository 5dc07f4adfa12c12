//! The only macOS-specific code of the probe: a few sysctl reads through
//! `libc::sysctlbyname`. Everything computed from them (chip parsing, profile
//! matching, the GPU-usable fraction) lives in plain functions in
//! `matching.rs`, tested on every OS. Checked from Linux with
//! `cargo check --target aarch64-apple-darwin --no-default-features`.

use super::detect::AppleInfo;
use std::ffi::CString;

/// The Apple chip, its memory and its GPU wired limit; `None` on an Intel Mac.
pub fn apple_info() -> Option<AppleInfo> {
    let brand = sysctl_string("machdep.cpu.brand_string")?;
    if !brand.trim_start().starts_with("Apple") {
        return None;
    }
    Some(AppleInfo {
        brand: brand.trim().to_string(),
        memsize_bytes: sysctl_u64("hw.memsize")?,
        wired_limit_mb: sysctl_u64("iogpu.wired_limit_mb"),
    })
}

/// The CPU's `hw.optional.*` features that are set, in `/proc/cpuinfo` spelling
/// (the mapping is `roofs::MACOS_FEATURES`).
pub fn arm_features() -> Vec<String> {
    super::roofs::MACOS_FEATURES
        .iter()
        .filter(|(name, _)| sysctl_u64(name).is_some_and(|v| v != 0))
        .map(|(_, flag)| (*flag).to_string())
        .collect()
}

/// Read a sysctl into a buffer of the size the kernel asks for.
fn sysctl_bytes(name: &str) -> Option<Vec<u8>> {
    let cname = CString::new(name).ok()?;
    let mut len: libc::size_t = 0;
    // SAFETY: a null output buffer asks only for the size; `cname` is NUL-terminated.
    let rc = unsafe {
        libc::sysctlbyname(
            cname.as_ptr(),
            std::ptr::null_mut(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 || len == 0 {
        return None;
    }
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` has `len` writable bytes and `len` tells the kernel so.
    let rc = unsafe {
        libc::sysctlbyname(
            cname.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    buf.truncate(len);
    Some(buf)
}

/// A string sysctl, without its trailing NUL.
fn sysctl_string(name: &str) -> Option<String> {
    let buf = sysctl_bytes(name)?;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// An integer sysctl of 4 or 8 bytes (native endianness).
fn sysctl_u64(name: &str) -> Option<u64> {
    let buf = sysctl_bytes(name)?;
    match buf.len() {
        4 => Some(u64::from(u32::from_ne_bytes(buf[..4].try_into().ok()?))),
        8 => Some(u64::from_ne_bytes(buf[..8].try_into().ok()?)),
        _ => None,
    }
}
