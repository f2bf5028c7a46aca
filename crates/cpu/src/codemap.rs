//! Which bytes of guest RAM hold decoded code.
//!
//! A store into RAM that decoded traces came from must drop those traces
//! (self-modifying code; SDM Vol. 3, 11.6: the processor snoops its own
//! stores against the code it has fetched). Knowing only the *page* made
//! every store to a page that also holds code cost a full re-decode: a
//! loop next to its own data, as real-mode code and old compilers lay
//! out, ran at 1-2 MIPS. So each code page also keeps a bitmap of the
//! 16-byte granules its traces cover; a store that touches none of them
//! leaves the traces alone.
//!
//! The map may claim more than is true (granules of traces dropped for
//! another page stay set until this page is dropped) but never less: every
//! live trace's bytes lie in set granules of code pages. A store that
//! misses the granules therefore cannot change any decoded instruction.
//! A page may be marked with no granules set (its code was just dropped);
//! the write TLB still sends its stores here, where the first one unmarks
//! it.

use crate::trace::FastMap;

/// Bytes per granule: small enough that data a few bytes past a loop's
/// closing JMP is not "code", large enough that a page's map is four
/// words.
pub const GRANULE: u64 = 16;

const PAGE: u64 = 0x1000;
const WORDS: usize = (PAGE / GRANULE / 64) as usize;

/// Code pages (one bit per 4 KiB page, for the TLB's quick test) and the
/// granules of each (for stores into them).
#[derive(Debug, Clone, Default)]
pub struct CodeMap {
    pages: Vec<u64>,
    granules: FastMap<u64, [u64; WORDS]>,
}

/// The granule bits of page-relative bytes `off..off + len` (`len` > 0,
/// within the page).
fn granule_bits(off: u64, len: u64) -> [u64; WORDS] {
    let first = off / GRANULE;
    let last = (off + len - 1).min(PAGE - 1) / GRANULE;
    let mut bits = [0u64; WORDS];
    for g in first..=last {
        bits[(g / 64) as usize] |= 1 << (g % 64);
    }
    bits
}

impl CodeMap {
    /// True if decoded code came from the page holding `paddr`.
    #[inline]
    pub fn is_code_page(&self, paddr: u64) -> bool {
        let page = (paddr >> 12) as usize;
        self.pages
            .get(page / 64)
            .is_some_and(|w| w & (1 << (page % 64)) != 0)
    }

    /// Records that a trace decoded bytes `paddr..paddr + len` (within one
    /// page). Returns true if the page was not code before (write TLB
    /// entries for it must now take the slow path).
    pub fn mark(&mut self, paddr: u64, len: u64) -> bool {
        let page = paddr & !(PAGE - 1);
        let bits = granule_bits(paddr & (PAGE - 1), len.max(1));
        let g = self.granules.entry(page).or_default();
        for (w, b) in g.iter_mut().zip(bits) {
            *w |= b;
        }
        let n = (page >> 12) as usize;
        let (w, b) = (n / 64, n % 64);
        if w >= self.pages.len() {
            self.pages.resize(w + 1, 0);
        }
        let new = self.pages[w] & (1 << b) == 0;
        self.pages[w] |= 1 << b;
        new
    }

    /// A store of `len` bytes at `paddr` (within one page). True if it
    /// touches decoded code: the caller drops the page's traces, and the
    /// page's granules are emptied.
    ///
    /// The page itself stays a code page, so that code rewriting itself
    /// in a loop does not flush the write TLB each time its trace is
    /// decoded again; a later store finding the page with no code left
    /// (its code was not decoded again) makes it an ordinary page.
    #[inline]
    pub fn store_hits_code(&mut self, paddr: u64, len: u64) -> bool {
        if !self.is_code_page(paddr) {
            return false;
        }
        let page = paddr & !(PAGE - 1);
        let bits = granule_bits(paddr & (PAGE - 1), len.max(1));
        match self.granules.get_mut(&page) {
            Some(g) if g.iter().zip(bits).any(|(w, b)| w & b != 0) => {
                *g = [0; WORDS];
                true
            }
            Some(g) if g.iter().all(|w| *w == 0) => {
                self.unmark_page(page);
                false
            }
            Some(_) => false,
            // A code page always has its granules: treat the impossible
            // as a hit, which is always safe.
            None => {
                self.unmark_page(page);
                true
            }
        }
    }

    /// The whole page holding `paddr` was (or may have been) rewritten:
    /// returns true if it held code, which it no longer does.
    pub fn unmark_page(&mut self, paddr: u64) -> bool {
        let n = (paddr >> 12) as usize;
        let (w, b) = (n / 64, n % 64);
        match self.pages.get_mut(w) {
            Some(word) if *word & (1 << b) != 0 => {
                *word &= !(1 << b);
                self.granules.remove(&(paddr & !(PAGE - 1)));
                true
            }
            _ => false,
        }
    }

    /// Forgets everything (all decoded code was dropped).
    pub fn clear(&mut self) {
        self.pages.clear();
        self.granules.clear();
    }

    /// Pages with granule maps (bookkeeping size, for tests).
    pub fn tracked_pages(&self) -> usize {
        self.granules.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_beside_code_on_its_page_keeps_the_code() {
        let mut m = CodeMap::default();
        assert!(m.mark(0x2000, 2), "first code on the page");
        assert!(!m.mark(0x2000, 2), "already code");
        assert!(!m.store_hits_code(0x2010, 1), "granule 1 holds no code");
        assert!(m.is_code_page(0x2FFF));
        assert!(
            m.store_hits_code(0x200F, 4),
            "granule 0 holds the JMP's tail"
        );
        assert!(m.is_code_page(0x2000), "still a code page, with no code");
        assert!(!m.store_hits_code(0x200F, 4), "its code is gone");
        assert!(!m.is_code_page(0x2000), "a store found no code: plain RAM");
        assert_eq!(m.tracked_pages(), 0);
    }

    #[test]
    fn granules_cover_the_whole_range_up_to_the_page_end() {
        let mut m = CodeMap::default();
        m.mark(0x5FF0, 0x40);
        assert!(!m.store_hits_code(0x5FE8, 8), "the granule before");
        assert!(m.store_hits_code(0x5FFF, 1), "the last byte");
        assert!(!m.mark(0x5000, 4), "decoded again: no TLB flush needed");
        assert!(m.store_hits_code(0x5002, 1));
    }

    #[test]
    fn stores_to_other_pages_and_whole_page_drops() {
        let mut m = CodeMap::default();
        m.mark(0x3000, 0x1000);
        assert!(!m.store_hits_code(0x4000, 8));
        assert!(!m.unmark_page(0x4000));
        assert!(m.unmark_page(0x3ABC));
        assert!(!m.is_code_page(0x3000));
        m.mark(0x7000, 1);
        m.clear();
        assert!(!m.is_code_page(0x7000));
    }
}
