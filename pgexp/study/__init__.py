"""``pgexp-study``: what each N and each estimator buys, measured against the exact gradient.

At a fixed θ it draws M independent estimates for each N of a grid and each estimator variant
(one batched computation per variant and N: the M draws are M runs of one batch) and compares
them with the exact gradient (finite MDPs with table policies) or a large-N reference estimate
(elsewhere): bias with Hotelling's test, tr Cov, MSE, relative error, the cosine's quantiles and
the N at which 90% of draws have cos ≥ 0.9.
"""
