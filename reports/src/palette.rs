//! The colours every picture shares, so one thing has one colour on every page.
//!
//! A term is coloured by its number, not by its rank among the run's leader terms: the
//! timeline, the sequence diagram, the storyboard and the viewer then agree on "term 3 is
//! cyan" within a run and across runs, which is what a reader comparing a slide of one
//! picture with another needs. The palette leaves out the reds, greens and greys that mean
//! failure, success and "not running" elsewhere in the pictures, and consecutive terms
//! always differ.

use plotters::style::RGBColor;

/// A colour, for SVG written by hand (`hex`) and for plotters charts (`rgb`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Colour(pub u8, pub u8, pub u8);

impl Colour {
    /// `#1f77b4`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// The same colour for plotters.
    pub const fn rgb(self) -> RGBColor {
        RGBColor(self.0, self.1, self.2)
    }
}

/// Term colours, indexed by term number (term 1 first).
const TERMS: [Colour; 8] = [
    Colour(31, 119, 180),
    Colour(255, 127, 14),
    Colour(23, 190, 207),
    Colour(227, 119, 194),
    Colour(140, 86, 75),
    Colour(188, 189, 34),
    Colour(148, 103, 189),
    Colour(57, 59, 121),
];

/// Term 0: before any election.
pub const TERM_ZERO: Colour = Colour(190, 190, 190);

/// The colour of `term` in every picture.
pub fn term(term: u64) -> Colour {
    if term == 0 {
        TERM_ZERO
    } else {
        TERMS[((term - 1) % TERMS.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_terms_differ_and_terms_repeat_after_the_palette() {
        for t in 0..40 {
            assert_ne!(term(t), term(t + 1), "terms {t} and {}", t + 1);
        }
        assert_eq!(term(1), term(1 + TERMS.len() as u64));
        assert_eq!(term(3).hex(), "#17becf");
    }
}
