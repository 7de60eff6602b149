//! Scoring submissions against a jury: the canonical cost, the jury-only fit, and the geometric
//! blend of submissions on the simplex.
//!
//! A submission is a vector of **logits** (log-credit) over items; items are grouped (the
//! children of one parent), and only differences inside a group mean anything. A jury answer
//! `(a, b, c)` says `w_b / w_a = e^c`. The canonical cost of logits `x` is
//! `Σ (x[b] − x[a] − c)²` over the jury.

use crate::{FundingError, real::Real};

/// One jury answer: "item `b` deserves `e^c` times what item `a` deserves".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Answer<T> {
    /// The item compared against.
    pub a: usize,
    /// The item whose relative credit is stated.
    pub b: usize,
    /// `ln(w_b / w_a)` as the juror sees it.
    pub c: T,
}

/// `Σ (x[b] − x[a] − c)²`: squared error in log space between the ratios the logits imply and
/// the jury's. Lower is better; adding a constant to every logit of a group changes nothing.
pub fn cost<T: Real>(logits: &[T], jury: &[Answer<T>]) -> T {
    jury.iter().fold(T::zero(), |acc, j| {
        let e = logits[j.b] - logits[j.a] - j.c;
        acc + e * e
    })
}

/// Natural logarithms of positive shares: the canonical form of a submission of shares.
pub fn logits<T: Real>(shares: &[T]) -> Vec<T> {
    shares.iter().map(|s| s.ln()).collect()
}

/// Shares from logits, normalised so the items of each group sum to 1 (a softmax per group;
/// the largest logit of the group is subtracted first, so nothing overflows).
pub fn shares<T: Real>(logits: &[T], groups: &[Vec<usize>]) -> Vec<T> {
    let mut out = vec![T::zero(); logits.len()];
    for group in groups {
        let Some(max) = group.iter().map(|&i| logits[i]).reduce(|a, b| if b > a { b } else { a }) else {
            continue;
        };
        let exps: Vec<T> = group.iter().map(|&i| (logits[i] - max).exp()).collect();
        let total = exps.iter().fold(T::zero(), |a, &b| a + b);
        for (&i, &e) in group.iter().zip(&exps) {
            out[i] = e / total;
        }
    }
    out
}

/// The mini-contest metric: the squared error of the predicted share `w_a / (w_a + w_b)`
/// against a label in [0, 1].
pub fn pair_share_error<T: Real>(w_a: T, w_b: T, label: T) -> T {
    let e = w_a / (w_a + w_b) - label;
    e * e
}

/// The jury-only fit: the logits that best explain the jury by itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit<T> {
    /// Per item: the fitted logit, or `None` for an item no answer touches. Each connected
    /// component of the comparison graph is anchored at its lowest item (logit 0).
    pub z: Vec<Option<T>>,
    /// The cost of the fitted logits: 0 when the jury is consistent.
    pub residual: T,
}

/// Least squares in log space: `min Σ (z_b − z_a − c)²` with one anchor per connected
/// component (its lowest item), solved exactly from the normal equations (the comparison
/// graph's Laplacian) by elimination with partial pivoting.
pub fn fit<T: Real>(items: usize, jury: &[Answer<T>]) -> Result<Fit<T>, FundingError> {
    check_answers(items, jury)?;
    // Components by union-find over the answered pairs.
    let mut parent: Vec<usize> = (0..items).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut touched = vec![false; items];
    for j in jury {
        touched[j.a] = true;
        touched[j.b] = true;
        let (ra, rb) = (find(&mut parent, j.a), find(&mut parent, j.b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            parent[hi] = lo;
        }
    }
    let mut z = vec![None; items];
    let mut members: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in (0..items).filter(|&i| touched[i]) {
        let root = find(&mut parent, i);
        members.entry(root).or_default().push(i);
    }
    for (anchor, list) in members {
        // Unknowns: every member but the anchor (the lowest, since roots are the lowest index).
        let unknown: Vec<usize> = list.iter().copied().filter(|&i| i != anchor).collect();
        let index = |i: usize| unknown.binary_search(&i).ok();
        let n = unknown.len();
        let mut m = vec![vec![T::zero(); n + 1]; n];
        for j in jury.iter().filter(|j| find(&mut parent, j.a) == anchor) {
            // (z_b − z_a − c)²: ∂/∂z_b gives z_b − z_a = c, ∂/∂z_a gives z_a − z_b = −c.
            let (ia, ib) = (index(j.a), index(j.b));
            if let Some(b) = ib {
                m[b][b] = m[b][b] + T::one();
                m[b][n] = m[b][n] + j.c;
                if let Some(a) = ia {
                    m[b][a] = m[b][a] - T::one();
                }
            }
            if let Some(a) = ia {
                m[a][a] = m[a][a] + T::one();
                m[a][n] = m[a][n] - j.c;
                if let Some(b) = ib {
                    m[a][b] = m[a][b] - T::one();
                }
            }
        }
        let solution = solve(m).ok_or(FundingError::Singular)?;
        z[anchor] = Some(T::zero());
        for (k, &i) in unknown.iter().enumerate() {
            z[i] = Some(solution[k]);
        }
    }
    let filled: Vec<T> = z.iter().map(|v| v.unwrap_or_else(T::zero)).collect();
    Ok(Fit { residual: cost(&filled, jury), z })
}

/// Solves the augmented system `m` (n rows of n + 1) by Gaussian elimination with partial
/// pivoting (the largest pivot; ties to the earliest row). `None` when singular.
fn solve<T: Real>(mut m: Vec<Vec<T>>) -> Option<Vec<T>> {
    let n = m.len();
    for col in 0..n {
        let mut best = col;
        for row in col + 1..n {
            if m[row][col].abs() > m[best][col].abs() {
                best = row;
            }
        }
        if m[best][col].is_small() {
            return None;
        }
        m.swap(col, best);
        for row in col + 1..n {
            let factor = m[row][col] / m[col][col];
            if factor == T::zero() {
                continue;
            }
            let (pivot, below) = m.split_at_mut(row);
            for (target, &v) in below[0][col..].iter_mut().zip(&pivot[col][col..]) {
                *target = *target - factor * v;
            }
        }
    }
    let mut x = vec![T::zero(); n];
    for row in (0..n).rev() {
        let mut v = m[row][n];
        for k in row + 1..n {
            v = v - m[row][k] * x[k];
        }
        x[row] = v / m[row][row];
    }
    Some(x)
}

pub(crate) fn check_answers<T: Real>(items: usize, jury: &[Answer<T>]) -> Result<(), FundingError> {
    for (index, j) in jury.iter().enumerate() {
        if j.a >= items || j.b >= items || j.a == j.b {
            return Err(FundingError::BadAnswer {
                index,
                reason: format!("items {} and {} of {items}", j.a, j.b),
            });
        }
    }
    Ok(())
}

/// The best geometric blend of submissions and what each one scores alone.
#[derive(Clone, Debug, PartialEq)]
pub struct Blend<T> {
    /// The weight of each submission (≥ 0, summing to 1). A later exact duplicate of an
    /// earlier submission (the same implied ratio on every jury pair) gets 0: earliest wins.
    pub alpha: Vec<T>,
    /// The cost of the blend `Σ α_k · logits_k`.
    pub cost: T,
    /// The cost of each submission alone.
    pub costs: Vec<T>,
}

impl<T: Real> Blend<T> {
    /// The blended logits `Σ α_k · logits_k`.
    pub fn logits(&self, submissions: &[Vec<T>]) -> Vec<T> {
        let n = submissions.first().map_or(0, Vec::len);
        let mut out = vec![T::zero(); n];
        for (a, s) in self.alpha.iter().zip(submissions) {
            if *a == T::zero() {
                continue;
            }
            for (o, &x) in out.iter_mut().zip(s) {
                *o = *o + *a * x;
            }
        }
        out
    }
}

/// `min over α in the simplex of cost(Σ α_k · logits_k)`, by an exact active-set method.
///
/// The objective is `‖Dᵀα − c‖²` with `D[k][j] = logits_k[b_j] − logits_k[a_j]`: a convex
/// quadratic. The method starts from the best single submission (ties: the earliest), adds the
/// submission whose gradient most improves the objective (ties: the earliest), solves the
/// equality-constrained problem on the active set exactly, and steps back to the simplex when a
/// weight would go negative. Later exact duplicates are left out, so submitting the same list
/// twice cannot raise its total weight, and a copy of another's list earns nothing.
pub fn blend<T: Real>(submissions: &[Vec<T>], jury: &[Answer<T>]) -> Result<Blend<T>, FundingError> {
    let k = submissions.len();
    if k == 0 {
        return Err(FundingError::NoSubmissions);
    }
    let items = submissions[0].len();
    if let Some(bad) = submissions.iter().position(|s| s.len() != items) {
        return Err(FundingError::Length {
            what: "submission",
            index: bad,
            expected: items,
            got: submissions[bad].len(),
        });
    }
    check_answers(items, jury)?;
    let d: Vec<Vec<T>> = submissions.iter().map(|s| jury.iter().map(|j| s[j.b] - s[j.a]).collect()).collect();
    let costs: Vec<T> = submissions.iter().map(|s| cost(s, jury)).collect();
    // G = D Dᵀ, h = D c.
    let dot = |x: &[T], y: &[T]| x.iter().zip(y).fold(T::zero(), |acc, (&p, &q)| acc + p * q);
    let c: Vec<T> = jury.iter().map(|j| j.c).collect();
    let g: Vec<Vec<T>> = (0..k).map(|p| (0..k).map(|q| dot(&d[p], &d[q])).collect()).collect();
    let h: Vec<T> = (0..k).map(|p| dot(&d[p], &c)).collect();
    // Candidates: the first of each group of identical rows of D.
    let candidate: Vec<bool> = (0..k).map(|p| (0..p).all(|q| d[q] != d[p])).collect();
    let scale = (0..k).fold(T::one(), |m, p| if g[p][p] > m { g[p][p] } else { m });
    let tolerance = T::eps() * scale;

    let first = (0..k)
        .filter(|&p| candidate[p])
        .fold(None::<usize>, |best, p| match best {
            Some(b) if costs[b] <= costs[p] => Some(b),
            _ => Some(p),
        })
        .ok_or(FundingError::NoSubmissions)?;
    let mut alpha = vec![T::zero(); k];
    alpha[first] = T::one();
    let mut active = vec![first];
    let mut excluded = vec![false; k];
    let gradient = |alpha: &[T]| -> Vec<T> { (0..k).map(|p| dot(&g[p], alpha) - h[p]).collect() };

    for _ in 0..(4 * k + 16) {
        let grad = gradient(&alpha);
        let level = dot(&alpha, &grad);
        let entering = (0..k)
            .filter(|&p| candidate[p] && !excluded[p] && !active.contains(&p))
            .map(|p| (p, grad[p] - level))
            .filter(|&(_, gap)| gap < -tolerance)
            .fold(None::<(usize, T)>, |best, (p, gap)| match best {
                Some((_, b)) if b <= gap => best,
                _ => Some((p, gap)),
            });
        let Some((enter, _)) = entering else { break };
        active.push(enter);
        active.sort_unstable();
        loop {
            let Some(beta) = face_optimum(&g, &h, &active) else {
                // Affinely dependent on the active set: it cannot improve the face's optimum.
                active.retain(|&p| p != enter);
                excluded[enter] = true;
                break;
            };
            if beta.iter().all(|&b| b > T::zero()) {
                for (slot, &p) in active.iter().enumerate() {
                    alpha[p] = beta[slot];
                }
                break;
            }
            // Step from alpha toward beta until the first weight reaches 0.
            let mut step = T::one();
            for (slot, &p) in active.iter().enumerate() {
                if beta[slot] <= T::zero() {
                    let t = alpha[p] / (alpha[p] - beta[slot]);
                    if t < step {
                        step = t;
                    }
                }
            }
            for (slot, &p) in active.iter().enumerate() {
                alpha[p] = alpha[p] + step * (beta[slot] - alpha[p]);
            }
            let dropped: Vec<usize> =
                active.iter().copied().filter(|&p| alpha[p] <= tolerance || alpha[p].is_small()).collect();
            for p in &dropped {
                alpha[*p] = T::zero();
            }
            active.retain(|p| !dropped.contains(p));
            if active.is_empty() {
                return Err(FundingError::Singular);
            }
        }
    }
    // The earliest active submission absorbs the rounding, so the weights sum to exactly 1.
    let rest = active.iter().skip(1).fold(T::zero(), |acc, &p| acc + alpha[p]);
    alpha[active[0]] = T::one() - rest;
    let blended: Vec<T> =
        (0..jury.len()).map(|j| (0..k).fold(T::zero(), |acc, p| acc + alpha[p] * d[p][j])).collect();
    let cost = blended.iter().zip(&c).fold(T::zero(), |acc, (&x, &y)| acc + (x - y) * (x - y));
    Ok(Blend { alpha, cost, costs })
}

/// The minimiser of `αᵀGα − 2hᵀα` on the affine face `Σ α = 1` of the active set, from the
/// KKT system `[G 1; 1ᵀ 0] [α; μ] = [h; 1]`. `None` when the system is singular.
fn face_optimum<T: Real>(g: &[Vec<T>], h: &[T], active: &[usize]) -> Option<Vec<T>> {
    let n = active.len();
    let mut m = vec![vec![T::zero(); n + 2]; n + 1];
    for (r, &p) in active.iter().enumerate() {
        for (s, &q) in active.iter().enumerate() {
            m[r][s] = g[p][q];
        }
        m[r][n] = T::one();
        m[r][n + 1] = h[p];
        m[n][r] = T::one();
    }
    m[n][n + 1] = T::one();
    let mut x = solve(m)?;
    x.truncate(n);
    Some(x)
}
