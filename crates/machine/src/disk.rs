//! Disk, CD and floppy images: the user's files as block media.
//!
//! [`open_image`] checks a file before any controller sees it (a regular,
//! readable, non-empty file whose size is a whole number of 512-byte
//! sectors) and returns a [`BlockBackend`]:
//!
//! - [`FileImage`]: a raw image read and written in place. Writes go
//!   straight to the file (no buffering of ours), so they are in the host's
//!   page cache as soon as the guest's command completes; FLUSH CACHE and
//!   the end of the run make them durable (`sync_data`).
//! - [`Overlay`]: copy-on-write over a read-only view of the file, for
//!   `--snapshot` and for a hard disk image the user may not write: the
//!   guest sees its writes, the file never changes.
//!
//! A CD-ROM image is read-only by nature. A read-only floppy image is
//! write-protected media (the controller reports it to the guest).
//!
//! The file may change under a running guest. If it shrinks, a read past
//! its new end fails: the guest's command gets a media error and the
//! problem goes to the shared [`MediaHealth`], which ends the run with a
//! clear message. If the file is deleted or replaced while the guest
//! writes to it, the writes went to the old file (the open descriptor
//! keeps it): when the image is closed its contents are saved back under
//! the old name, or beside a replacement as `NAME.anyx86-saved`, so
//! nothing the guest wrote is lost.

use anyx86_hw::block::{checked_range, BlockBackend, BlockError};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Bytes in a disk sector: image sizes must be a multiple of it.
pub const SECTOR: u64 = 512;

/// What kind of drive an image is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// An ATA hard disk (`--hda` ... `--hdd`).
    HardDisk,
    /// An ATAPI CD-ROM (`--cdrom`).
    Cdrom,
    /// A floppy disk (`--fda`, `--fdb`).
    Floppy,
}

/// Why an image cannot be used. Each is a one-line message for the user
/// (the command line exits with status 2).
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file cannot be opened or inspected.
    #[error("cannot open image {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a regular file (a directory, a FIFO, a device).
    #[error("image {path} is not a regular file")]
    NotAFile {
        /// The file.
        path: PathBuf,
    },
    /// Zero bytes.
    #[error("image {path} is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The size is not a whole number of sectors.
    #[error("image {path} is {len} bytes, not a multiple of 512")]
    Size {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// The controller cannot use an image of this size (a floppy that is
    /// no standard format).
    #[error("image {path}: {why}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// Problems with image files found while the machine runs, shared by
/// every opened image and the machine (which ends the run on a failure
/// and reports them all).
#[derive(Debug, Default)]
pub struct MediaHealth {
    failed: Cell<bool>,
    problems: RefCell<Vec<String>>,
}

impl MediaHealth {
    /// A guest's access failed because of the host file: the run must end.
    pub fn fail(&self, why: String) {
        self.failed.set(true);
        self.problems.borrow_mut().push(why);
    }

    /// True once an access failed.
    pub fn failed(&self) -> bool {
        self.failed.get()
    }

    /// The problems so far, oldest first (taken).
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.problems.borrow_mut())
    }
}

/// An opened image and what the user should be told about it.
pub struct OpenedImage {
    /// The medium.
    pub backend: Box<dyn BlockBackend>,
    /// A note for stderr (an implicit `--snapshot`), if any.
    pub note: Option<String>,
}

/// Opens `path` as a medium of `kind`; `snapshot` keeps every write in
/// memory.
pub fn open_image(
    path: &Path,
    kind: MediaKind,
    snapshot: bool,
    health: &Rc<MediaHealth>,
) -> Result<OpenedImage, ImageError> {
    let open_err = |source| ImageError::Open {
        path: path.to_owned(),
        source,
    };
    // Look before opening: opening a FIFO with no writer would block.
    let meta = std::fs::metadata(path).map_err(open_err)?;
    if !meta.is_file() {
        return Err(ImageError::NotAFile {
            path: path.to_owned(),
        });
    }
    let len = meta.len();
    if len == 0 {
        return Err(ImageError::Empty {
            path: path.to_owned(),
        });
    }
    if len % SECTOR != 0 {
        return Err(ImageError::Size {
            path: path.to_owned(),
            len,
        });
    }
    // The file's permission bits decide, also for root (who could write
    // anyway): a read-only file is never written.
    let file_read_only = meta.permissions().readonly();
    let writable = kind != MediaKind::Cdrom && !file_read_only && !snapshot;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(writable)
        .open(path)
        .map_err(open_err)?;
    // Reading one sector proves the file is readable now, not at the
    // guest's first access.
    let mut image = FileImage {
        identity: identity(&meta),
        file,
        len,
        read_only: !writable,
        path: path.to_owned(),
        written: false,
        failed: false,
        health: Rc::clone(health),
    };
    let mut probe = [0u8; SECTOR as usize];
    image.read(0, &mut probe).map_err(|_| ImageError::Open {
        path: path.to_owned(),
        source: std::io::Error::other("read failed"),
    })?;
    let (backend, note): (Box<dyn BlockBackend>, _) = match kind {
        MediaKind::Cdrom => (Box::new(image), None),
        MediaKind::Floppy if snapshot => (Box::new(Overlay::new(Box::new(image))), None),
        // A read-only floppy image is write-protected media.
        MediaKind::Floppy => (Box::new(image), None),
        MediaKind::HardDisk if snapshot => (Box::new(Overlay::new(Box::new(image))), None),
        MediaKind::HardDisk if file_read_only => (
            Box::new(Overlay::new(Box::new(image))),
            Some(format!(
                "{} is read-only: guest writes are kept in memory (as with --snapshot)",
                path.display()
            )),
        ),
        MediaKind::HardDisk => (Box::new(image), None),
    };
    Ok(OpenedImage { backend, note })
}

/// A raw image file, read and written in place.
pub struct FileImage {
    file: File,
    len: u64,
    read_only: bool,
    path: PathBuf,
    /// The file's (device, inode) when opened: another value under the
    /// same name later means the file was replaced.
    identity: Option<(u64, u64)>,
    /// The guest wrote to the file.
    written: bool,
    /// A failure was reported already (one message per image).
    failed: bool,
    health: Rc<MediaHealth>,
}

/// A file's (device, inode), where the host has them.
#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

impl FileImage {
    fn seek(&mut self, offset: u64) -> Result<(), BlockError> {
        self.file
            .seek(SeekFrom::Start(offset))
            .map(|_| ())
            .map_err(|_| BlockError::Io)
    }

    /// A read or write at `offset` failed on the host: says why (a file
    /// that shrank is the likely reason) and fails the run.
    fn failure(&mut self, what: &str, offset: u64, err: &std::io::Error) {
        if self.failed {
            return;
        }
        self.failed = true;
        let now = self.file.metadata().map(|m| m.len()).unwrap_or(self.len);
        let why = if now < self.len {
            format!(
                "image {} shrank from {} to {now} bytes while the guest ran (a {what} at offset {offset} failed)",
                self.path.display(),
                self.len
            )
        } else {
            format!(
                "image {}: a {what} at offset {offset} failed: {err}",
                self.path.display()
            )
        };
        self.health.fail(why);
    }

    /// Where the guest's writes must be saved because the name no longer
    /// leads to this file (deleted or replaced), if it does not.
    fn lost_name(&self) -> Option<PathBuf> {
        let opened = self.identity?;
        match std::fs::metadata(&self.path) {
            Ok(m) if identity(&m) == Some(opened) => None,
            Ok(_) => {
                let mut saved = self.path.clone().into_os_string();
                saved.push(".anyx86-saved");
                Some(PathBuf::from(saved))
            }
            Err(_) => Some(self.path.clone()),
        }
    }

    /// Copies the whole file, as the guest left it, to a new file `to`.
    fn save_to(&mut self, to: &Path) -> std::io::Result<()> {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(to)?;
        self.file.seek(SeekFrom::Start(0))?;
        std::io::copy(&mut self.file, &mut out)?;
        out.sync_all()
    }
}

impl BlockBackend for FileImage {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        checked_range(offset, buf.len(), self.len)?;
        self.seek(offset)?;
        if let Err(e) = self.file.read_exact(buf) {
            self.failure("read", offset, &e);
            return Err(BlockError::Io);
        }
        Ok(())
    }
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        checked_range(offset, data.len(), self.len)?;
        self.seek(offset)?;
        if let Err(e) = self.file.write_all(data) {
            self.failure("write", offset, &e);
            return Err(BlockError::Io);
        }
        self.written = true;
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        if self.read_only {
            return Ok(());
        }
        self.file.sync_data().map_err(|_| BlockError::Io)
    }
}

impl Drop for FileImage {
    /// The end of a run makes the guest's writes durable, whatever the
    /// guest did about FLUSH CACHE, and saves them if the file lost its
    /// name meanwhile.
    fn drop(&mut self) {
        if self.read_only {
            return;
        }
        let _ = self.file.sync_data();
        if !self.written {
            return;
        }
        let Some(to) = self.lost_name() else {
            return;
        };
        let what = if to == self.path {
            "was deleted"
        } else {
            "was replaced"
        };
        let msg = match self.save_to(&to) {
            Ok(()) => format!(
                "image {} {what} while the guest wrote to it: its contents were saved to {}",
                self.path.display(),
                to.display()
            ),
            Err(e) => format!(
                "image {} {what} while the guest wrote to it, and saving it to {} failed: {e}",
                self.path.display(),
                to.display()
            ),
        };
        self.health.fail(msg);
    }
}

/// Copy-on-write over a base medium: written sectors live in memory.
pub struct Overlay {
    base: Box<dyn BlockBackend>,
    sectors: HashMap<u64, Box<[u8; SECTOR as usize]>>,
}

impl Overlay {
    /// An overlay on `base`, which is never written.
    pub fn new(base: Box<dyn BlockBackend>) -> Self {
        Overlay {
            base,
            sectors: HashMap::new(),
        }
    }

    /// Sectors written so far.
    pub fn dirty_sectors(&self) -> usize {
        self.sectors.len()
    }

    /// The current contents of sector `lba` (from the overlay or the base).
    fn sector(&mut self, lba: u64) -> Result<[u8; SECTOR as usize], BlockError> {
        if let Some(s) = self.sectors.get(&lba) {
            return Ok(**s);
        }
        let mut s = [0u8; SECTOR as usize];
        self.base.read(lba * SECTOR, &mut s)?;
        Ok(s)
    }
}

impl BlockBackend for Overlay {
    fn len(&self) -> u64 {
        self.base.len()
    }
    fn read_only(&self) -> bool {
        false
    }
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        checked_range(offset, buf.len(), self.len())?;
        if self.sectors.is_empty() {
            return self.base.read(offset, buf);
        }
        let mut done = 0;
        while done < buf.len() {
            let pos = offset + done as u64;
            let (lba, within) = (pos / SECTOR, (pos % SECTOR) as usize);
            let n = (SECTOR as usize - within).min(buf.len() - done);
            let s = self.sector(lba)?;
            buf[done..done + n].copy_from_slice(&s[within..within + n]);
            done += n;
        }
        Ok(())
    }
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        checked_range(offset, data.len(), self.len())?;
        let mut done = 0;
        while done < data.len() {
            let pos = offset + done as u64;
            let (lba, within) = (pos / SECTOR, (pos % SECTOR) as usize);
            let n = (SECTOR as usize - within).min(data.len() - done);
            let mut s = self.sector(lba)?;
            s[within..within + n].copy_from_slice(&data[done..done + n]);
            self.sectors.insert(lba, Box::new(s));
            done += n;
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        Ok(())
    }
    fn overlay(&self) -> Option<Vec<(u64, Vec<u8>)>> {
        let mut v: Vec<_> = self.sectors.iter().map(|(&n, s)| (n, s.to_vec())).collect();
        v.sort_unstable_by_key(|&(n, _)| n);
        Some(v)
    }
    fn set_overlay(&mut self, sectors: &[(u64, Vec<u8>)]) -> bool {
        let count = self.base.len() / SECTOR;
        let fits = |(n, s): &(u64, Vec<u8>)| *n < count && s.len() == SECTOR as usize;
        if !sectors.iter().all(fits) {
            return false;
        }
        self.sectors = sectors
            .iter()
            .filter_map(|(n, s)| {
                Some((
                    *n,
                    Box::new(<[u8; SECTOR as usize]>::try_from(&s[..]).ok()?),
                ))
            })
            .collect();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyx86_hw::MemDisk;

    fn temp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("anyx86-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn err(path: &Path, kind: MediaKind) -> String {
        match open_image(path, kind, false, &Rc::default()) {
            Ok(_) => panic!("{} opened", path.display()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_images_are_refused_with_a_reason() {
        let empty = temp("empty.img", &[]);
        assert!(err(&empty, MediaKind::HardDisk).contains("is empty"));
        let odd = temp("odd.img", &[0; 1000]);
        assert!(err(&odd, MediaKind::Cdrom).contains("not a multiple of 512"));
        let dir = std::env::temp_dir();
        assert!(err(&dir, MediaKind::HardDisk).contains("not a regular file"));
        let missing = dir.join("anyx86-no-such-image.img");
        assert!(err(&missing, MediaKind::Floppy).contains("cannot open image"));
    }

    #[test]
    fn a_raw_image_is_written_in_place() {
        let p = temp("rw.img", &[0; 2048]);
        {
            let mut img = open_image(&p, MediaKind::HardDisk, false, &Rc::default()).unwrap();
            assert!(img.note.is_none());
            img.backend.write(512, b"anyx86").unwrap();
            img.backend.flush().unwrap();
        }
        assert_eq!(&std::fs::read(&p).unwrap()[512..518], b"anyx86");
    }

    #[test]
    fn snapshot_keeps_writes_in_memory_and_the_file_unchanged() {
        let p = temp("snap.img", &[7; 2048]);
        let mut img = open_image(&p, MediaKind::HardDisk, true, &Rc::default()).unwrap();
        img.backend.write(510, &[1, 2, 3, 4]).unwrap();
        let mut b = [0u8; 6];
        img.backend.read(509, &mut b).unwrap();
        assert_eq!(b, [7, 1, 2, 3, 4, 7]);
        drop(img);
        assert_eq!(std::fs::read(&p).unwrap(), vec![7; 2048]);
    }

    #[test]
    fn a_read_only_disk_image_gets_an_implicit_snapshot_and_a_note() {
        let p = temp("ro.img", &[0; 1024]);
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        perm.set_readonly(true);
        std::fs::set_permissions(&p, perm).unwrap();
        let mut img = open_image(&p, MediaKind::HardDisk, false, &Rc::default()).unwrap();
        assert!(img.note.as_deref().unwrap().contains("read-only"));
        img.backend.write(0, &[9]).unwrap();
        drop(img);
        assert_eq!(std::fs::read(&p).unwrap()[0], 0);
        // A read-only floppy is write-protected media instead.
        let img = open_image(&p, MediaKind::Floppy, false, &Rc::default()).unwrap();
        assert!(img.backend.read_only());
    }

    #[test]
    fn a_cd_is_read_only() {
        let p = temp("cd.iso", &[0; 4096]);
        let mut img = open_image(&p, MediaKind::Cdrom, false, &Rc::default()).unwrap();
        assert!(img.backend.read_only());
        assert_eq!(img.backend.write(0, &[1]), Err(BlockError::ReadOnly));
    }

    #[test]
    fn overlay_reads_and_writes_across_sector_boundaries() {
        let base = MemDisk::new((0..2048u32).map(|i| i as u8).collect());
        let mut o = Overlay::new(Box::new(base));
        o.write(1000, &[0xAA; 100]).unwrap();
        assert_eq!(o.dirty_sectors(), 2);
        let mut b = vec![0u8; 200];
        o.read(950, &mut b).unwrap();
        assert_eq!(b[49], (999u32 & 0xFF) as u8);
        assert!(b[50..150].iter().all(|&x| x == 0xAA));
        assert_eq!(b[150], (1100u32 & 0xFF) as u8);
        assert_eq!(o.write(2047, &[0, 0]), Err(BlockError::OutOfRange));
    }

    #[test]
    fn an_image_that_shrinks_under_the_guest_fails_its_reads_and_the_run() {
        let p = temp("shrinks.img", &[7u8; 4096]);
        let health = Rc::default();
        let mut img = open_image(&p, MediaKind::HardDisk, false, &health).unwrap();
        let mut buf = [0u8; 512];
        img.backend.read(1024, &mut buf).unwrap();
        assert!(!health.failed());
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(512)
            .unwrap();
        assert_eq!(img.backend.read(1024, &mut buf), Err(BlockError::Io));
        assert!(health.failed());
        let problems = health.take();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("shrank from 4096 to 512 bytes")
                && problems[0].contains("read at offset 1024"),
            "{problems:?}"
        );
        // Sector 0 is still there.
        img.backend.read(0, &mut buf).unwrap();
        assert_eq!(buf, [7u8; 512]);
    }

    #[test]
    fn an_image_deleted_while_written_is_saved_under_its_name() {
        let p = temp("deleted.img", &[1u8; 1024]);
        let health = Rc::default();
        let mut img = open_image(&p, MediaKind::HardDisk, false, &health).unwrap();
        std::fs::remove_file(&p).unwrap();
        img.backend.write(512, &[9u8; 512]).unwrap();
        drop(img);
        let back = std::fs::read(&p).expect("saved again");
        assert_eq!(&back[..512], &[1u8; 512][..]);
        assert_eq!(&back[512..], &[9u8; 512][..], "the guest's write");
        assert!(health.failed());
        let problems = health.take();
        assert!(problems[0].contains("was deleted"), "{problems:?}");
    }

    #[test]
    fn an_image_replaced_while_written_is_saved_beside_the_replacement() {
        let p = temp("replaced.img", &[1u8; 512]);
        let health = Rc::default();
        let mut img = open_image(&p, MediaKind::Floppy, false, &health).unwrap();
        img.backend.write(0, &[5u8; 512]).unwrap();
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, b"the user's new file").unwrap();
        drop(img);
        assert_eq!(std::fs::read(&p).unwrap(), b"the user's new file");
        let saved = p.with_extension("img.anyx86-saved");
        assert_eq!(std::fs::read(&saved).unwrap(), [5u8; 512]);
        let problems = health.take();
        assert!(problems[0].contains("was replaced"), "{problems:?}");
    }

    #[test]
    fn an_image_deleted_but_never_written_is_left_deleted() {
        let p = temp("unwritten.img", &[1u8; 512]);
        let health = Rc::default();
        let img = open_image(&p, MediaKind::HardDisk, false, &health).unwrap();
        std::fs::remove_file(&p).unwrap();
        drop(img);
        assert!(!p.exists());
        assert!(!health.failed() && health.take().is_empty());
    }
}
