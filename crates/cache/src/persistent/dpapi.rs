//! Windows only: [`DpapiProtector`], the current user's Data Protection API
//! (`CryptProtectData`, no entropy, no prompt), as msal-extensions'
//! `FilePersistenceWithDataProtection` protects Azure Identity's cache file.
//!
//! The only `unsafe` code of the workspace lives here (two calls into `crypt32.dll` and the
//! `LocalFree` of their output); a tidy test keeps it that way.
#![allow(unsafe_code)]

use std::ptr;

use windows_sys::Win32::Foundation::LocalFree;
use windows_sys::Win32::Security::Cryptography::{
    CRYPT_INTEGER_BLOB, CRYPTPROTECT_UI_FORBIDDEN, CryptProtectData, CryptUnprotectData,
};

use super::store::Protector;
use crate::BoxError;

/// The current Windows user's DPAPI: what it protects, only this user on this machine can
/// read. The default protection of [`FileBackend`](crate::FileBackend) on Windows.
#[derive(Clone, Copy, Debug, Default)]
pub struct DpapiProtector;

fn blob(data: &[u8]) -> Result<CRYPT_INTEGER_BLOB, BoxError> {
    Ok(CRYPT_INTEGER_BLOB {
        cbData: u32::try_from(data.len()).map_err(|_| "the token cache is too large for DPAPI")?,
        pbData: data.as_ptr().cast_mut(),
    })
}

/// Copies DPAPI's output and frees it.
fn take(out: CRYPT_INTEGER_BLOB) -> Vec<u8> {
    if out.pbData.is_null() {
        return Vec::new();
    }
    // SAFETY: on success DPAPI returns `cbData` initialised bytes at `pbData`, allocated with
    // LocalAlloc; they are copied once and freed once, here.
    unsafe {
        let bytes = std::slice::from_raw_parts(out.pbData, out.cbData as usize).to_vec();
        LocalFree(out.pbData.cast());
        bytes
    }
}

/// Runs one DPAPI call on `data`: `call(input, output)` returns the API's `BOOL`.
fn transform(
    data: &[u8],
    call: impl FnOnce(&CRYPT_INTEGER_BLOB, &mut CRYPT_INTEGER_BLOB) -> i32,
) -> Result<Vec<u8>, BoxError> {
    let input = blob(data)?;
    let mut out = CRYPT_INTEGER_BLOB {
        cbData: 0,
        pbData: ptr::null_mut(),
    };
    if call(&input, &mut out) == 0 {
        return Err(Box::new(std::io::Error::last_os_error()));
    }
    Ok(take(out))
}

impl Protector for DpapiProtector {
    fn protect(&self, data: &[u8]) -> Result<Vec<u8>, BoxError> {
        transform(data, |input, out| {
            // SAFETY: `input` points into `data`, which outlives the call; the optional
            // arguments are null, as the API allows; `out` is written by the call.
            unsafe {
                CryptProtectData(
                    input,
                    ptr::null(),
                    ptr::null(),
                    ptr::null(),
                    ptr::null(),
                    CRYPTPROTECT_UI_FORBIDDEN,
                    out,
                )
            }
        })
    }

    fn unprotect(&self, data: &[u8]) -> Result<Vec<u8>, BoxError> {
        transform(data, |input, out| {
            // SAFETY: as in `protect`; the description output pointer is null (not wanted).
            unsafe {
                CryptUnprotectData(
                    input,
                    ptr::null_mut(),
                    ptr::null(),
                    ptr::null(),
                    ptr::null(),
                    CRYPTPROTECT_UI_FORBIDDEN,
                    out,
                )
            }
        })
    }

    fn kind(&self) -> &'static str {
        "file dpapi"
    }
}
