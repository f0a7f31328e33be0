//! Counting popularities in bounded memory: `popularity(u) = Σ R(w)` over `u` and every
//! vertex `w` that depends on `u` (see the parent module).
//!
//! The sum runs over a *set* (each dependent once, however many routes lead from it to
//! `u`), so it cannot be accumulated along edges. Keeping every vertex's set of
//! dependents takes n² bits (1.25 GB for 100 000 paths); instead:
//!
//! - a vertex whose route count saturated is saturated itself (popularity ≥ routes), and
//!   so is everything below it: those vertices drop out of the counting;
//! - a root's dependents are itself: popularity 1;
//! - a vertex with exactly one referrer `p` has as dependents itself and `p`'s:
//!   `R(u) + popularity(p)`;
//! - the others (two referrers or more) get their sums stripe by stripe: a stripe is a
//!   run of at most `64 · words` vertices in topological order, and one sweep down the
//!   graph gives each vertex the bit set of the stripe's vertices it depends on, and adds
//!   their route counts to its popularity. Only vertices below the stripe and above a
//!   summed vertex are visited (a chain visits none), and each vertex's bits
//!   are dropped once passed on, so memory stays `n · words` words, whatever the
//!   stripe count.
//!
//! Sums saturate at `u128::MAX`, and a saturating sum of non-negative terms does not
//! depend on their order, so adding stripe by stripe gives exactly the one-pass total.

use crate::layering::Adjacency;

/// How much the stripe's bit sets may take, in bytes: `words` is chosen to fit.
const STRIPE_BYTES: usize = 64 << 20;
/// The widest stripe, in 64-bit words: `Sweep::nonzero` has a bit a word, and wider
/// stripes would only make the sum tables bigger (1 MiB at 32 words).
const MAX_WORDS: usize = 32;

/// The popularity of each vertex of an acyclic graph whose vertices are numbered in
/// topological order: `references.of(v)` lists `v`'s references, `referrers.of(v)` its
/// referrers, and every referrer has a lower number than the vertices it refers to.
pub(super) fn popularities(references: &Adjacency, referrers: &Adjacency) -> Vec<u128> {
    let n = references.count();
    let words = (STRIPE_BYTES / 8 / n.max(1)).clamp(1, MAX_WORDS);
    popularities_in_stripes(references, referrers, words.min(n.div_ceil(64)).max(1))
}

/// [`popularities`] with stripes of `words` 64-bit words.
fn popularities_in_stripes(
    references: &Adjacency,
    referrers: &Adjacency,
    words: usize,
) -> Vec<u128> {
    let routes = routes(referrers);
    let mut popularity = vec![0u128; routes.len()];
    let mut sweep = Sweep::new(references, referrers, &routes, words);
    // Bits only flow down, so stripes after the last summed vertex add to no sum.
    for first in (0..sweep.summed_end).step_by(words * 64) {
        sweep.add_stripe(first, &mut popularity);
    }
    for v in 0..routes.len() {
        popularity[v] = match referrers.of(v) {
            _ if routes[v] == u128::MAX => u128::MAX,
            [] => routes[v],
            // Referrers are numbered lower, so `p` is final already.
            &[p] => routes[v].saturating_add(popularity[p]),
            _ => popularity[v],
        };
    }
    popularity
}

/// Routes from the roots to each vertex: 1 for a root, else the sum over its referrers.
fn routes(referrers: &Adjacency) -> Vec<u128> {
    let mut routes = vec![0u128; referrers.count()];
    for v in 0..referrers.count() {
        routes[v] = if referrers.of(v).is_empty() {
            1
        } else {
            referrers
                .of(v)
                .iter()
                .fold(0u128, |sum, &p| sum.saturating_add(routes[p]))
        };
    }
    routes
}

/// The state of the stripe sweeps, allocated once for all stripes.
struct Sweep<'a> {
    references: &'a Adjacency,
    routes: &'a [u128],
    /// Vertices whose sums come from the stripes: two referrers or more, not saturated.
    summed: Vec<bool>,
    /// Vertices whose bits can reach a sum: the summed ones and those above one. The
    /// others (saturated ones among them) get no bits.
    feeds: Vec<bool>,
    /// One past the highest-numbered summed vertex (0 if none).
    summed_end: usize,
    words: usize,
    /// Each vertex's bits (of the current stripe's vertices it depends on), `words` a
    /// vertex; all zero between visits.
    bits: Vec<u64>,
    /// Which of each vertex's `words` words are not zero, one bit a word: most are zero
    /// (a vertex depends on few of a stripe's vertices), and are neither merged nor
    /// summed.
    nonzero: Vec<u32>,
    /// The vertices holding bits not yet passed on, one bit each.
    pending: Vec<u64>,
    /// `tables[byte_index * 256 + byte]`: the routes of the stripe vertices whose bits
    /// are set in `byte` at that byte of the stripe, summed, so a bit set is summed a
    /// byte at a time.
    tables: Vec<u128>,
}

impl<'a> Sweep<'a> {
    fn new(
        references: &'a Adjacency,
        referrers: &Adjacency,
        routes: &'a [u128],
        words: usize,
    ) -> Sweep<'a> {
        let n = routes.len();
        let summed: Vec<bool> = (0..n)
            .map(|v| referrers.of(v).len() >= 2 && routes[v] < u128::MAX)
            .collect();
        // References are numbered higher: going up, theirs are known.
        let mut feeds = summed.clone();
        for v in (0..n).rev() {
            feeds[v] = feeds[v] || references.of(v).iter().any(|&r| feeds[r]);
        }
        Sweep {
            references,
            routes,
            summed_end: summed.iter().rposition(|&s| s).map_or(0, |last| last + 1),
            summed,
            feeds,
            words,
            bits: vec![0; n * words],
            nonzero: vec![0; n],
            pending: vec![0; n.div_ceil(64)],
            tables: vec![0; words * 8 * 256],
        }
    }

    /// Adds to each summed vertex the routes of the vertices `first..first + 64·words`
    /// it depends on (itself included).
    fn add_stripe(&mut self, first: usize, popularity: &mut [u128]) {
        let n = self.routes.len();
        let end = (first + self.words * 64).min(n);
        self.fill_tables(first, end);
        for v in (first..end).filter(|&v| self.feeds[v]) {
            let column = v - first;
            self.bits[v * self.words + column / 64] |= 1 << (column % 64);
            self.nonzero[v] |= 1 << (column / 64);
            self.pending[v / 64] |= 1 << (v % 64);
        }
        // Bits only move to higher-numbered vertices, so taking the lowest pending vertex
        // each time visits every vertex after all its referrers.
        let mut row = Vec::with_capacity(self.words);
        let mut word = first / 64;
        while word < self.pending.len() {
            let waiting = self.pending[word];
            if waiting == 0 {
                word += 1;
                continue;
            }
            self.pending[word] = waiting & (waiting - 1);
            let v = word * 64 + waiting.trailing_zeros() as usize;
            self.take(v, &mut row);
            self.pass_on(v, &row);
            if self.summed[v] {
                popularity[v] = popularity[v].saturating_add(self.sum(&row));
            }
        }
    }

    /// Moves `v`'s non-zero words into `row` as `(index, bits)`, leaving its bits all
    /// zero.
    fn take(&mut self, v: usize, row: &mut Vec<(usize, u64)>) {
        let own = &mut self.bits[v * self.words..(v + 1) * self.words];
        row.clear();
        row.extend(set_bits(self.nonzero[v]).map(|w| (w, std::mem::take(&mut own[w]))));
        self.nonzero[v] = 0;
    }

    /// Merges `row` (the bits of `v`) into the bits of those of `v`'s references that
    /// feed a sum.
    fn pass_on(&mut self, v: usize, row: &[(usize, u64)]) {
        let mask = row.iter().fold(0u32, |mask, &(w, _)| mask | 1 << w);
        for &r in self.references.of(v) {
            if !self.feeds[r] {
                continue;
            }
            let target = &mut self.bits[r * self.words..(r + 1) * self.words];
            for &(w, bits) in row {
                target[w] |= bits;
            }
            self.nonzero[r] |= mask;
            self.pending[r / 64] |= 1 << (r % 64);
        }
    }

    /// The byte tables of the stripe `first..end`: each entry is the entry with its
    /// lowest bit cleared plus that bit's vertex's routes.
    fn fill_tables(&mut self, first: usize, end: usize) {
        for (index, table) in self.tables.chunks_exact_mut(256).enumerate() {
            for byte in 1..256usize {
                let v = first + index * 8 + byte.trailing_zeros() as usize;
                let routes = if v < end { self.routes[v] } else { 0 };
                table[byte] = table[byte & (byte - 1)].saturating_add(routes);
            }
        }
    }

    /// The routes of the stripe vertices whose bits are set in `row`, summed.
    fn sum(&self, row: &[(usize, u64)]) -> u128 {
        let mut total = 0u128;
        for &(w, bits) in row {
            for (k, byte) in bits.to_le_bytes().into_iter().enumerate() {
                let entry = self.tables[((w * 8 + k) << 8) | usize::from(byte)];
                total = total.saturating_add(entry);
            }
        }
        total
    }
}

/// The positions of the bits set in `mask`, lowest first.
fn set_bits(mut mask: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let bit = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            bit
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The oracle: every vertex's dependents as a full bit set (n² bits), then the routes
    /// of each set summed; what `ranked` did before stripes.
    fn with_full_sets(referrers: &Adjacency) -> Vec<u128> {
        let n = referrers.count();
        let routes = routes(referrers);
        let words = n.div_ceil(64);
        let mut dependents = vec![0u64; n * words];
        for v in 0..n {
            dependents[v * words + v / 64] |= 1 << (v % 64);
            for &p in referrers.of(v) {
                for w in 0..words {
                    dependents[v * words + w] |= dependents[p * words + w];
                }
            }
        }
        (0..n)
            .map(|v| {
                (0..n)
                    .filter(|&w| dependents[v * words + w / 64] & (1 << (w % 64)) != 0)
                    .fold(0u128, |sum, w| sum.saturating_add(routes[w]))
            })
            .collect()
    }

    /// References and referrers, numbered topologically, from each vertex's references.
    fn both_ways(references: Vec<Vec<usize>>) -> (Adjacency, Adjacency) {
        let references = Adjacency::new(references);
        let referrers = references.reversed();
        (references, referrers)
    }

    /// A DAG of up to `max` vertices, each referring to up to 6 vertices after it, mostly
    /// nearby ones so that deep graphs (saturated route counts) come up too.
    fn dag(max: usize) -> impl Strategy<Value = Vec<Vec<usize>>> {
        (1..max).prop_flat_map(|n| {
            let vertex = |v: usize| {
                prop::collection::vec((0usize..4, 1usize..1000), 0..7).prop_map(move |draws| {
                    let mut refs: Vec<usize> = draws
                        .into_iter()
                        .map(|(near, far)| v + 1 + if near > 0 { near - 1 } else { far })
                        .filter(|&r| r < n)
                        .collect();
                    refs.sort_unstable();
                    refs.dedup();
                    refs
                })
            };
            (0..n).map(vertex).collect::<Vec<_>>()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Stripes of one and three words (many stripes per graph) and the chosen width
        /// all give the oracle's counts, saturated ones included.
        #[test]
        fn stripes_count_what_full_sets_count(references in dag(700)) {
            let (references, referrers) = both_ways(references);
            let expected = with_full_sets(&referrers);
            for words in [1, 3] {
                prop_assert_eq!(&popularities_in_stripes(&references, &referrers, words), &expected);
            }
            prop_assert_eq!(&popularities(&references, &referrers), &expected);
        }
    }

    /// A ladder deeper than 128 rungs saturates the routes; the shortcut agrees with the
    /// oracle, and vertices above the saturated ones keep exact counts.
    #[test]
    fn saturated_routes_saturate_popularity() {
        let rungs = 150;
        let mut references: Vec<Vec<usize>> = (0..2 * rungs)
            .map(|v| {
                let next = (v / 2 + 1) * 2;
                if next < 2 * rungs {
                    vec![next, next + 1]
                } else {
                    vec![]
                }
            })
            .collect();
        // A chain hanging below the last rung.
        references[2 * rungs - 1].push(2 * rungs);
        references.push(vec![]);
        let (references, referrers) = both_ways(references);
        let got = popularities_in_stripes(&references, &referrers, 1);
        assert_eq!(got, with_full_sets(&referrers));
        assert_eq!(got[2 * rungs], u128::MAX);
        assert_eq!(got[0], 1);
    }
}
