//! The OpenSubtitles movie hash (`protocols-addendum.md` §5), which subtitle addons match
//! files by (`videoHash`): the file size plus every little-endian `u64` word of the first and
//! the last 64 KiB, wrapping. Only those 128 KiB are read, whatever the file's size.

use std::io::{Read, Seek, SeekFrom};

/// The bytes summed at each end of the file.
pub const CHUNK: usize = 64 * 1024;
/// Under this the two windows would overlap: OpenSubtitles accepts no such file and the
/// reference implementation (oshash) refuses to hash it.
pub const MIN_SIZE: u64 = 2 * CHUNK as u64;

/// The hash of a file of `size` bytes whose first and last [`CHUNK`] bytes are `head` and
/// `tail`, as 16 lower-case hex digits.
pub fn hash(size: u64, head: &[u8; CHUNK], tail: &[u8; CHUNK]) -> String {
    let mut h = size;
    for word in head.chunks_exact(8).chain(tail.chunks_exact(8)) {
        let word: [u8; 8] = word.try_into().expect("chunks_exact(8) gives 8 bytes");
        h = h.wrapping_add(u64::from_le_bytes(word));
    }
    format!("{h:016x}")
}

/// The hash of an opened file of `size` bytes (`library::confine::open_regular` opens library
/// files), or `None` under [`MIN_SIZE`]. Blocking: two reads of 64 KiB.
pub fn hash_file(file: &mut (impl Read + Seek), size: u64) -> std::io::Result<Option<String>> {
    if size < MIN_SIZE {
        return Ok(None);
    }
    let mut head = Box::new([0u8; CHUNK]);
    let mut tail = Box::new([0u8; CHUNK]);
    file.read_exact(&mut head[..])?;
    file.seek(SeekFrom::Start(size - CHUNK as u64))?;
    file.read_exact(&mut tail[..])?;
    Ok(Some(hash(size, &head, &tail)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileExt;

    fn of(f: &tempfile::NamedTempFile) -> Option<String> {
        let mut file = f.reopen().unwrap();
        let size = file.metadata().unwrap().len();
        hash_file(&mut file, size).unwrap()
    }

    fn file_with(size: u64, head: &[u8], tail: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        // Sparse: a 4 GiB file costs no disk.
        f.as_file().set_len(size).unwrap();
        f.write_all(head).unwrap();
        f.seek(SeekFrom::Start(size - tail.len() as u64)).unwrap();
        f.write_all(tail).unwrap();
        f.flush().unwrap();
        f
    }

    #[test]
    fn an_all_zero_file_hashes_to_its_size() {
        // The derived vector of protocols-addendum §5.
        let f = file_with(131_072, &[], &[]);
        assert_eq!(of(&f).as_deref(), Some("0000000000020000"));
    }

    /// Computed with the reference Python of the OpenSubtitles wiki (`HashSourceCodes`, the
    /// `struct.unpack('<q')` loop masked to 64 bits) on the same bytes: the published files
    /// (breakdance.avi, dummy.rar) cannot be fetched by the test suite.
    #[test]
    fn words_are_little_endian_and_the_sum_wraps_past_64_bits() {
        let head: Vec<u8> = (0..CHUNK).map(|i| (i * 7 % 251) as u8).collect();
        let tail = vec![0xFF; CHUNK];
        // > 4 GiB like dummy.bin: the size itself needs the upper word.
        let f = file_with(4_295_033_890, &head, &tail);
        assert_eq!(of(&f).as_deref(), Some(PYTHON_REFERENCE));
    }
    const PYTHON_REFERENCE: &str = "28b43ed34eda3e6a";

    #[test]
    fn a_file_under_128_kib_has_no_hash_and_only_the_ends_count() {
        let f = file_with(MIN_SIZE - 1, &[], &[]);
        assert_eq!(of(&f), None);
        // A byte outside both windows changes nothing; one inside does.
        let plain = file_with(300_000, &[], &[]);
        let middle = file_with(300_000, &[], &[]);
        middle.as_file().write_all_at(&[1], 150_000).unwrap();
        let base = of(&plain);
        assert_eq!(of(&middle), base);
        let edge = file_with(300_000, &[], &[1]);
        assert_ne!(of(&edge), base);
        assert_eq!(
            of(&edge).unwrap(),
            format!("{:016x}", 300_000u64 + (1u64 << 56)),
            "the file's last byte is the top byte of its last little-endian word"
        );
    }
}
