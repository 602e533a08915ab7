"""Start values for the optimiser, planned once per model (see StartPlan)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import lapack

from .matrices import RAM, Array
from .partable import ParTable


def start_values(pt: ParTable, ram: RAM, S: Array, std_lv: bool) -> Array:
    """Starting values for the optimiser (see :class:`StartPlan`)."""
    return StartPlan(pt, ram, std_lv)(S)


def _ints(x: list[int]) -> NDArray[Any]:
    return np.array(x, dtype=np.intp)


class StartPlan:
    """start_values with the model's bookkeeping done once per model.

    First stage, always available: per factor, loadings from the leading eigenvector of its indicators'
    covariance (one batched eigh), scaled so that the marker loading takes its fixed value (or, without a
    marker, the factor variance is 1); residual variances are what the factors leave of each variance, clipped
    to [0.1, 0.9] of it; everything else starts at its written value or 0 (latent variances without indicators
    at 0.05). Second stage where the model allows it (``_refine``): instrumental-variable loadings from the
    marker's covariances with the other indicators (FABIN3's idea), latent (co)variances by least squares,
    regressions among factors from those and residual variances from all of it; it falls back to the first
    stage when a factor has no usable marker or the latent covariances are not positive definite."""

    def __init__(self, pt: ParTable, ram: RAM, std_lv: bool) -> None:
        idx = {v: i for i, v in enumerate(ram.names)}
        p, q = ram.p, ram.q
        self.p, self.q = p, q
        factors = list(pt.latent)
        fpos = {f: k for k, f in enumerate(factors)}
        members: list[list[int]] = []
        rows_of: list[list[Any]] = []
        for f in factors:
            rows = [r for r in pt.rows if r.op == "=~" and r.lhs == f and r.rhs in idx and idx[r.rhs] < p]
            rows_of.append(rows)
            members.append([idx[r.rhs] for r in rows])
        kmax = max((len(m) for m in members), default=0)
        self.has = np.array([len(m) > 0 for m in members], dtype=bool)
        self.small = [k for k, m in enumerate(members) if 0 < len(m) <= 2]
        block = np.full((len(factors), max(kmax, 1)), p, dtype=np.intp)  # p = the zero padding row
        for k, m in enumerate(members):
            block[k, : len(m)] = m
        self.block = block
        self.members = members
        # scale: marker loading (fixed, non-zero) when its eigenvector entry is usable, else 1 or the first entry
        self.marker = np.array([next((j for j, r in enumerate(rows) if not r.free and r.value != 0), -1)
                                for rows in rows_of], dtype=np.intp)
        self.marker_value = np.array([rows[m].value if m >= 0 else 1.0 for rows, m in zip(rows_of, self.marker,
                                                                                         strict=True)])
        self.unit = std_lv
        # loading matrix entries (every loading row on an observed indicator) for the explained variances
        self.lam_i = np.array([idx[r.rhs] for rows in rows_of for r in rows], dtype=np.intp)
        self.lam_f = np.array([k for k, rows in enumerate(rows_of) for _ in rows], dtype=np.intp)
        self.lam_j = np.array([j for rows in rows_of for j in range(len(rows))], dtype=np.intp)
        base = np.zeros(q)
        load_k: list[int] = []
        load_f: list[int] = []
        load_j: list[int] = []
        res_k: list[int] = []
        res_i: list[int] = []
        lv_k: list[int] = []
        lv_f: list[int] = []
        seen: set[int] = set()
        where = {(f, r.rhs): j for f, rows in zip(factors, rows_of, strict=True) for j, r in enumerate(rows)}
        for r in pt.rows:
            if not r.free or (r.free - 1) in seen:
                continue
            k = r.free - 1
            seen.add(k)
            if r.op == "=~":
                j = where.get((r.lhs, r.rhs))
                if j is None:
                    base[k] = 1.0
                else:
                    load_k.append(k)
                    load_f.append(fpos[r.lhs])
                    load_j.append(j)
            elif r.op == "~~" and r.lhs == r.rhs:
                i = idx[r.lhs]
                if i < p:
                    res_k.append(k)
                    res_i.append(i)
                elif r.lhs in fpos:
                    lv_k.append(k)
                    lv_f.append(fpos[r.lhs])
                else:
                    base[k] = 0.05
            elif r.op == "~1":
                base[k] = r.value
            else:
                base[k] = r.value if r.value else 0.0
        self.base = base
        self.load_k, self.load_f, self.load_j = _ints(load_k), _ints(load_f), _ints(load_j)
        self.res_k, self.res_i = _ints(res_k), _ints(res_i)
        self.lv_k, self.lv_f = _ints(lv_k), _ints(lv_f)
        # flat gather indices for the per-sample work
        nf, kmax = block.shape
        self.padded = bool((block == p).any())
        width = p + 1 if self.padded else p
        self.sub_at = block[:, :, None] * width + block[:, None, :]
        self.marker_at = np.arange(nf, dtype=np.intp) * kmax + np.maximum(self.marker, 0)
        self.has_marker = (self.marker >= 0) & self.has
        self.load_at = self.load_f * kmax + self.load_j
        self.lam_at = self.lam_f * kmax + self.lam_j
        self._plan_refinement(pt, ram, factors, rows_of, members, idx)

    def _plan_refinement(self, pt: ParTable, ram: RAM, factors: list[str], rows_of: list[list[Any]],
                         members: list[list[int]], idx: dict[str, int]) -> None:
        """Index plan for the second stage of the start values (see ``_refine``)."""
        p, nf, kmax = self.p, len(factors), self.block.shape[1]
        self.nf = nf
        fpos = {f: k for k, f in enumerate(factors)}
        n_fac = np.zeros(p, dtype=np.intp)  # factors each observed variable loads on
        for r in pt.rows:
            if r.op == "=~" and r.rhs in idx and idx[r.rhs] < p:
                n_fac[idx[r.rhs]] += 1
        endo = {r.lhs for r in pt.rows if r.op == "~"} | {r.rhs for r in pt.rows if r.op == "=~" and r.rhs in fpos}
        # loadings: per factor with a marker and >= 3 indicators that load on it alone, the instrumental-variable
        # estimate lambda_i = lambda_m sum_j S_ij S_mj / sum_j S_mj^2 over the other indicators j (FABIN3 with
        # three indicators)
        iv_slot: list[int] = []
        iv_i: list[int] = []
        iv_m: list[int] = []
        iv_j: list[int] = []
        iv_at: list[int] = []
        iv_lam: list[int] = []
        iv_mv: list[float] = []
        for k, (rows, m) in enumerate(zip(rows_of, members, strict=True)):
            mk = int(self.marker[k])
            if mk < 0 or len(m) < 3 or any(n_fac[i] != 1 for i in m):
                continue
            for jj, r in enumerate(rows):
                if jj == mk or not r.free:
                    continue
                slot = len(iv_at)
                iv_at.append(k * kmax + jj)
                iv_lam.append(m[jj] * nf + k)
                iv_mv.append(float(self.marker_value[k]))
                for j in m:
                    if j not in (m[jj], m[mk]):
                        iv_slot.append(slot)
                        iv_i.append(m[jj])
                        iv_m.append(m[mk])
                        iv_j.append(j)
        self.iv_at, self.iv_lam, self.iv_mv = _ints(iv_at), _ints(iv_lam), np.array(iv_mv)
        self.iv_slot = _ints(iv_slot)
        self.iv_ij, self.iv_mj = _ints(iv_i) * p + _ints(iv_j), _ints(iv_m) * p + _ints(iv_j)
        # the loading matrix (p, nf): where each loading row of vec goes, the free ones in theta order
        self.vec_lam = self.lam_i * nf + self.lam_f
        self.load_lam = _ints([members[f][j] * nf + f for f, j in zip(self.load_f.tolist(), self.load_j.tolist(),
                                                                       strict=True)])
        lam0 = np.zeros((p, nf))
        for k, (rows, m) in enumerate(zip(rows_of, members, strict=True)):
            for jj, r in enumerate(rows):
                if not r.free:
                    lam0[m[jj], k] = r.value
        self.lam0 = lam0
        self.off = 1.0 - np.eye(p)  # the latent covariances are fitted to the off-diagonal of S only
        # free covariances between exogenous factors
        cov_slot: list[int] = []
        cov_k: list[int] = []
        for r in pt.rows:
            if (r.free and r.op == "~~" and r.lhs != r.rhs and r.lhs in fpos and r.rhs in fpos
                    and r.lhs not in endo and r.rhs not in endo):
                cov_k.append(r.free - 1)
                cov_slot.append(fpos[r.lhs] * nf + fpos[r.rhs])
        self.cov_k, self.cov_slot = _ints(cov_k), _ints(cov_slot)
        # regressions among factors: beta = Phi_xx^-1 Phi_xy and the disturbance variance phi_yy - beta'Phi_xy,
        # for outcomes whose every regression row is free and on a factor
        regs: list[tuple[int, NDArray[Any], NDArray[Any], int]] = []
        for y in factors:
            rows = [r for r in pt.rows if r.op == "~" and r.lhs == y]
            psi = next((r.free - 1 for r in pt.rows if r.op == "~~" and r.lhs == y and r.rhs == y and r.free), -1)
            if rows and psi >= 0 and all(r.free and r.rhs in fpos and r.rhs != y for r in rows):
                regs.append((fpos[y], _ints([fpos[r.rhs] for r in rows]), _ints([r.free - 1 for r in rows]), psi))
        self.regs = regs
        # the latent block of S at the start values must be positive definite (else keep the first stage);
        # nothing to check when it is diagonal
        nl = ram.n - p
        self.psi0 = np.asfortranarray(ram.S0[p:, p:])
        sel = (ram.s_rc[:, 0] >= p) & (ram.s_rc[:, 1] >= p)
        r_, c_ = ram.s_rc[sel, 0] - p, ram.s_rc[sel, 1] - p
        self.psi_at = (c_ + r_ * nl).astype(np.intp)  # (c, r) with r <= c: the lower triangle, column-major
        self.psi_k = ram.s_k[sel].astype(np.intp)
        self.psi_off_k = np.unique(self.psi_k[r_ != c_])  # free latent covariances
        off0 = self.psi0 - np.diag(np.diag(self.psi0))
        self.psi_check = bool(len(self.psi_k) and ((r_ != c_).any() or regs or off0.any()))
        self.var_free = np.zeros(nf, dtype=bool)
        self.var_free[self.lv_f] = True
        self.scaled = bool(self.var_free[self.has].all())  # every factor's variance is estimated
        self.refine = bool(nf and self.has.any())
        # every factor with indicators is covered by the instrumental-variable loadings: no eigh needed
        covered = np.zeros(nf, dtype=bool)
        covered[self.iv_at // max(kmax, 1)] = True
        n_load = sum(1 for k, rows in enumerate(rows_of) for jj, r in enumerate(rows) if r.free)
        self.iv_only = bool(nf and len(self.iv_at) and not self.unit and (covered == self.has).all()
                            and n_load == len(self.iv_at))

    def __call__(self, S: Array) -> Array:
        if self.iv_only:
            lam = self.lam0.copy()
            if self._iv(S, lam, strict=True):
                fast = self._refine(S, self.base.copy(), lam, np.full(self.nf, 0.05), strict=True)
                if fast is not None:
                    return fast
        theta = self.base.copy()
        p = self.p
        nf, kmax = self.block.shape
        lv_var = np.full(nf, 0.05)
        vec = np.zeros(nf * kmax)
        if nf:
            if self.padded:
                Sx = np.zeros((p + 1, p + 1))
                Sx[:p, :p] = S
                sub = Sx.take(self.sub_at)
            else:
                sub = S.take(self.sub_at)
            w, v = np.linalg.eigh(sub)
            vec2 = v[:, :, -1] * np.sqrt(np.maximum(w[:, -1], 1e-8))[:, None]
            for k in self.small:
                m = self.members[k]
                blk = S[np.ix_(m, m)]
                vec2[k, :] = 0.0
                vec2[k, : len(m)] = np.sqrt(np.clip(np.diag(blk), 1e-8, None)) * 0.7
                if len(m) == 2 and blk[0, 1] < 0:
                    vec2[k, 1] = -vec2[k, 1]
            at_marker = vec2.take(self.marker_at)
            use_marker = self.has_marker & (np.abs(at_marker) > 1e-8)
            if use_marker.all():  # the usual case: every factor has a usable marker indicator
                scale = at_marker / self.marker_value
                lv_var = scale * scale
            else:
                mk = self.marker
                fallback = np.where(self.unit | (mk < 0), 1.0, vec2[:, 0])
                fallback = np.where(vec2.sum(axis=1) < 0, -np.abs(fallback), fallback)
                scale = np.where(use_marker, at_marker / np.where(use_marker, self.marker_value, 1.0), fallback)
                scale = np.where(self.has, scale, 1.0)
                lv_var = np.where(self.has, scale**2, 0.05)
            vec = (vec2 / scale[:, None]).ravel()
        if self.refine:
            lam = self.lam0.copy()
            lam.put(self.vec_lam, vec.take(self.lam_at))
            self._iv(S, lam, strict=False)
            refined = self._refine(S, theta.copy(), lam, lv_var, strict=False)
            if refined is not None:
                return refined
        return self._finish(S, theta, vec, lv_var)

    def _finish(self, S: Array, theta: Array, vec: Array, lv_var: Array) -> Array:
        p = self.p
        theta[self.load_k] = vec.take(self.load_at)
        theta[self.lv_k] = lv_var.take(self.lv_f)
        if len(self.res_k):
            lam = vec.take(self.lam_at)
            expl = np.bincount(self.lam_i, lam * lam * lv_var.take(self.lam_f), minlength=p)
            si = S.diagonal().take(self.res_i)
            e = expl.take(self.res_i)
            theta[self.res_k] = np.where(e > 0, np.clip(si - e, 0.1 * si, 0.9 * si), 0.5 * si)
        return theta

    def _iv(self, S: Array, lam: Array, strict: bool) -> bool:
        """Instrumental-variable loadings into lam (in place); False when one is not informed (``strict``: then
        lam is left incomplete, else those keep their first-stage values)."""
        if not len(self.iv_at):
            return True
        Sf = S.ravel()
        smj = Sf.take(self.iv_mj)
        num = np.bincount(self.iv_slot, Sf.take(self.iv_ij) * smj, minlength=len(self.iv_at))
        den = np.bincount(self.iv_slot, smj * smj, minlength=len(self.iv_at))
        top = float(S.diagonal().max())
        ok = den > 1e-12 * top * top  # a marker (nearly) uncorrelated with every instrument informs nothing
        if ok.all():
            lam.put(self.iv_lam, self.iv_mv * num / den)
            return True
        if strict:
            return False
        lam.put(self.iv_lam, np.where(ok, self.iv_mv * num / np.where(ok, den, 1.0), lam.take(self.iv_lam)))
        return True

    def _refine(self, S: Array, theta: Array, lam: Array, lv_var: Array, strict: bool) -> Array | None:
        """Second stage, from the loading matrix lam (p, nf): latent (co)variances by least squares on the
        off-diagonal of S (Phi = N / D, N = lam' S_off lam, D = (lam o lam)' 1_off (lam o lam)), regressions among
        factors from those, residual variances from all of it; Newton then needs fewer steps (lavaan's FABIN3
        idea). Works in place on theta. None when the latent covariance block would not be positive definite, or
        (``strict``: lv_var holds no first-stage values) when a factor's variance is not informed."""
        L2 = lam * lam
        N = lam.T @ ((S * self.off) @ lam)
        D = L2.T @ (self.off @ L2)
        ok2 = D > 1e-300
        Phi = N / np.where(ok2, D, 1.0)
        d = Phi.diagonal()
        ok = ok2.diagonal() & (d > 0)
        if ok.all() and self.scaled:
            total, C = d, Phi
        else:
            if strict:
                return None
            total = np.where(ok & self.var_free, d, lv_var)
            sd = np.sqrt(np.where(ok, d, 1.0))
            scale = np.where(ok, np.sqrt(total) / sd, np.nan)
            C = np.where(ok2, Phi, np.nan) * scale[:, None] * scale[None, :]
        theta.put(self.load_k, lam.take(self.load_lam))
        theta.put(self.lv_k, total.take(self.lv_f))
        if len(self.res_k):
            si = S.diagonal().take(self.res_i)
            e = (L2 @ total).take(self.res_i)
            theta.put(self.res_k, np.where(e > 0, np.clip(si - e, 0.1 * si, 0.9 * si), 0.5 * si))
        if len(self.cov_k):
            c = C.take(self.cov_slot)
            theta.put(self.cov_k, np.where(np.isfinite(c), c, 0.0))
        if self.regs:
            self._regressions(theta, C, total)
        if self.psi_check and not self._psi_pd(theta):
            # latent correlations estimated beyond +-1 (or jointly so): shrink the latent covariances
            off = self.psi_off_k
            for shrink in (0.9, 0.5):
                trial = theta.copy()
                trial[off] *= shrink
                if self._psi_pd(trial):
                    return trial
            return None
        return theta

    def _psi_pd(self, theta: Array) -> bool:
        """Is the latent block of S positive definite at theta?"""
        Psi = self.psi0.copy(order="F")
        Psi.ravel(order="F")[self.psi_at] = theta.take(self.psi_k)
        return bool(lapack.dpotrf(Psi, lower=1, overwrite_a=1)[1] == 0)

    def _regressions(self, theta: Array, C: Array, total: Array) -> None:
        """Regressions among factors from the least-squares latent covariances C (on the model's scale)."""
        for y, xs, ks, psi in self.regs:
            Cxx, Cxy = C[np.ix_(xs, xs)], C[xs, y]
            if not (np.isfinite(Cxx).all() and np.isfinite(Cxy).all()):
                continue
            try:
                beta = np.linalg.solve(Cxx, Cxy)
            except np.linalg.LinAlgError:
                continue
            theta[ks] = beta
            theta[psi] = max(float(total[y] - beta @ Cxy), 0.05 * float(total[y]))
