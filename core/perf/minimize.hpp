// Nelder-Mead minimisation, deterministic (no random restarts): the fitter's one optimiser.
#pragma once
#include <functional>
#include <vector>

namespace moesim::perf {

// Minimises f from x0, the first simplex spread by `step` along each axis; stops after `max_evals`
// evaluations or when the simplex's values agree to `tol`. Returns the best point found.
std::vector<double> nelder_mead(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x0,
                                double step, int max_evals, double tol = 1e-10);

} // namespace moesim::perf
