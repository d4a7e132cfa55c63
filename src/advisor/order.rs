//! The arithmetic of an order: expected credits per filled field when
//! providers are asked in turn until one fills the field, assuming their
//! coverage is independent (the overlap seen is reported beside it), and the
//! order that minimises it: ascending cost per ask / hit rate.

/// One provider's figures in one segment.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFigures {
    /// Operation id.
    pub operation: String,
    /// Records it answered about.
    pub asked: u64,
    /// Of those, records its answer filled the field for.
    pub filled: u64,
    /// Credits per ask (billed, or what a cache hit saved).
    pub cost: f64,
}

impl StepFigures {
    /// filled / asked.
    pub fn hit_rate(&self) -> f64 {
        if self.asked == 0 {
            0.0
        } else {
            self.filled as f64 / self.asked as f64
        }
    }
}

/// Expected credits per filled field for `steps` in this order (`None`: nothing fills).
pub fn credits_per_fill(steps: &[&StepFigures]) -> Option<f64> {
    let mut reach = 1.0;
    let mut cost = 0.0;
    for s in steps {
        cost += reach * s.cost;
        reach *= 1.0 - s.hit_rate();
    }
    let fill = 1.0 - reach;
    (fill > 0.0).then(|| cost / fill)
}

/// The order minimising expected cost: free steps first, then ascending
/// cost / hit rate; steps that never fill go last (cheapest first).
pub fn best_order(steps: &[StepFigures]) -> Vec<&StepFigures> {
    let mut v: Vec<&StepFigures> = steps.iter().collect();
    let key = |s: &StepFigures| {
        let h = s.hit_rate();
        if h > 0.0 {
            (0, s.cost / h)
        } else {
            (1, s.cost)
        }
    };
    v.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(op: &str, asked: u64, filled: u64, cost: f64) -> StepFigures {
        StepFigures {
            operation: op.into(),
            asked,
            filled,
            cost,
        }
    }

    #[test]
    fn the_best_order_is_the_cheapest_of_every_permutation() {
        let steps = [
            step("a", 100, 30, 1.0),
            step("b", 100, 80, 2.0),
            step("c", 100, 50, 0.5),
            step("free", 100, 10, 0.0),
        ];
        let best = best_order(&steps);
        let names: Vec<&str> = best.iter().map(|s| s.operation.as_str()).collect();
        assert_eq!(names, ["free", "c", "b", "a"]);
        let best_cost = credits_per_fill(&best).unwrap();
        // Brute force over all 24 orders.
        let idx = [0, 1, 2, 3];
        let mut min = f64::MAX;
        for a in idx {
            for b in idx {
                for c in idx {
                    for d in idx {
                        let o = [a, b, c, d];
                        if (0..4).all(|i| o.contains(&i)) {
                            let v: Vec<&StepFigures> = o.iter().map(|i| &steps[*i]).collect();
                            min = min.min(credits_per_fill(&v).unwrap());
                        }
                    }
                }
            }
        }
        assert!((best_cost - min).abs() < 1e-12, "{best_cost} vs {min}");
        // Per-hit pricing (cost = hit rate × price) makes every order cost the price.
        let per_hit = [step("x", 10, 3, 0.3), step("y", 10, 8, 0.8)];
        let o: Vec<&StepFigures> = per_hit.iter().collect();
        assert!((credits_per_fill(&o).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(credits_per_fill(&[&step("z", 10, 0, 1.0)]), None);
    }
}
