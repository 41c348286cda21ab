"""The ``optimal`` METEOR alignment: among the exact matchings with the most matches, one with the fewest chunks.

METEOR picks, among the alignments with the most matches, one with the fewest chunks (a chunk is a maximal run of
matches adjacent and in the same order in both segments); METEOR 1.5's jar approximates this with a beam search
(`metrics.meteor_jar`, the default). This module computes it exactly, for the named variant ``optimal``:

1. For exact matching every token type t is matched min(#t in hypothesis, #t in reference) times in any maximum
   matching, and any partial matching can be completed to a maximum one without removing matches (types are
   independent and within a type every hypothesis token may pair with every reference token). So M is known in
   closed form and ``chunks = M - A``, where A is the largest number of *adjacencies* -- pairs of consecutive
   hypothesis positions i, i+1 matched to consecutive reference positions j, j+1 -- over all matchings.
2. An adjacency needs a bigram shared by both segments, so only positions inside shared bigrams matter. Without
   the one-to-one constraint, maximising A is a chain problem over hypothesis positions (state = the reference
   position a hypothesis position is matched to) solved exactly by dynamic programming (Viterbi); its optimum is
   an upper bound on A.
3. Branch and bound restores the constraint, separately for each group of shared bigrams linked through a common
   position (groups whose bigrams never compete count fully). The bound is the smaller of two chain relaxations
   (one-to-one dropped on the reference side, or on the hypothesis side); when a relaxation's optimum happens to be
   one-to-one it is feasible, hence optimal. Otherwise we branch on a contested position: which of its competitors
   may keep it (the children cover every one-to-one matching, since at most one competitor uses it in any). Every
   branch removes a candidate pair, so the search ends with the maximum of A over one-to-one matchings.
4. The general problem contains minimum common string partition, which is NP-hard, so no polynomial bound is
   claimed. A group that needs more than a small node budget (long responses with many repeated bigrams, a few in
   10,000 real pairs) is handed to an exact 0-1 program instead: x(i,j) = position i matched to j, y = an adjacency
   used, y ≤ both x, each position matched once, maximise Σ y, solved to zero gap by HiGHS (scipy).
Either way the chunk count is provably minimal among maximum matchings. The jar's search reaches it whenever it
prunes nothing (`metrics.meteor_jar`), and misses it on some long segments with many repeated tokens.

Tokens are compared with ``==``; any hashable tokens work (the jar's search passes Java hash codes).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Hashable, Sequence

import numpy as np

_OTHER = -1


def _viterbi(allowed: dict[int, set[int]]) -> tuple[int, dict[int, int]]:
    """Best adjacency count over assignments hyp position -> allowed ref position (or none), ignoring one-to-one.

    ``score[j]`` at position p is the best count over positions up to p when p is matched to j: either p starts a
    run (the best count before p) or it extends p-1 matched to j-1 (one more adjacency). Returns the optimum and
    the assignment of one optimal solution, restricted to positions that take part in an adjacency.
    """
    table = []  # per position: (position, score by state, best state or _OTHER, best count before it)
    best_before = 0
    prev_pos, prev_scores = None, {}
    for pos in sorted(allowed):
        if prev_pos is None or pos != prev_pos + 1:
            prev_scores = {}
        scores = {}
        for j in allowed[pos]:
            extended = prev_scores.get(j - 1, -1) + 1
            scores[j] = extended if extended > best_before else best_before
        # The best state here; ties go to "unmatched", then to the smallest reference position (determinism).
        best_state, best_value = _OTHER, best_before
        for j, value in scores.items():
            if value > best_value or (value == best_value and best_state != _OTHER and j < best_state):
                best_state, best_value = j, value
        table.append((pos, scores, best_state, best_before))
        best_before = best_value
        prev_pos, prev_scores = pos, scores
    assignment: dict[int, int] = {}
    state = table[-1][2] if table else _OTHER
    for index in range(len(table) - 1, -1, -1):
        pos, scores, _, _ = table[index]
        previous = table[index - 1] if index > 0 else None
        if state != _OTHER:
            assignment[pos] = state
            if previous is not None and previous[0] == pos - 1 and previous[1].get(state - 1, -2) + 1 == scores[state]:
                state = state - 1
                continue
        state = previous[2] if previous is not None else _OTHER
    kept = {i: j for i, j in assignment.items() if assignment.get(i + 1) == j + 1 or assignment.get(i - 1) == j - 1}
    return best_before, kept


_NODE_BUDGET = 64


def _transpose(domain: dict[int, set[int]]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    for i, js in domain.items():
        for j in js:
            out[j].add(i)
    return out


def _conflicts(assignment: dict[int, int]) -> dict[int, list[int]]:
    """Targets used by several sources in an assignment, with their users."""
    users: dict[int, list[int]] = defaultdict(list)
    for i, j in assignment.items():
        users[j].append(i)
    return {j: who for j, who in users.items() if len(who) > 1}


def _branch_and_bound(domain: dict[int, set[int]]) -> int | None:
    """Exact maximum adjacencies of one component, or None when the node budget runs out.

    The bound is the smaller of the two chain relaxations (one-to-one dropped on the reference side, or on the
    hypothesis side); a relaxation whose optimum happens to be one-to-one is feasible, hence optimal for its node.
    """
    best = -1
    nodes = 0
    stack = [domain]
    while stack:
        node = stack.pop()
        nodes += 1
        if nodes > _NODE_BUDGET:
            return None
        value_h, assign_h = _viterbi(node)
        if value_h <= best:
            continue
        transposed = _transpose(node)
        value_r, assign_r = _viterbi(transposed)
        if min(value_h, value_r) <= best:
            continue
        conflicts_h = _conflicts(assign_h)
        if not conflicts_h:
            best = value_h
            continue
        conflicts_r = _conflicts(assign_r)
        if not conflicts_r:
            best = value_r
            continue
        # Branch where the relaxation is tighter: which source may keep the contested target.
        if value_r < value_h:
            target, users = min(conflicts_r.items(), key=lambda item: (len(item[1]), item[0]))
            for keep in users:
                child_t = {j: (iset - {target} if (j != keep and j in users) else iset)
                           for j, iset in transposed.items()}
                stack.append(_transpose(child_t))
        else:
            target, users = min(conflicts_h.items(), key=lambda item: (len(item[1]), item[0]))
            for keep in users:
                stack.append({i: (js - {target} if (i != keep and i in users) else js) for i, js in node.items()})
    return best


def _integer_program(pairs: list[tuple[int, int]]) -> int:
    """Exact maximum adjacencies of one component as a 0-1 program (HiGHS via scipy), for hard components.

    x(i,j) = hypothesis position i matched to reference position j; y(i,j) = the adjacency (i,j)-(i+1,j+1) is
    used, y ≤ both x; each position matched at most once; maximise Σ y. Solved to optimality (zero gap).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    units = sorted({(i, j) for i, j in pairs} | {(i + 1, j + 1) for i, j in pairs})
    unit_index = {u: k for k, u in enumerate(units)}
    n_x, n_y = len(units), len(pairs)
    rows, cols, vals = [], [], []
    row = 0
    for k, (i, j) in enumerate(pairs):
        for unit in ((i, j), (i + 1, j + 1)):
            rows += [row, row]
            cols += [n_x + k, unit_index[unit]]
            vals += [1.0, -1.0]
            row += 1
    for side in (0, 1):
        groups: dict[int, list[int]] = defaultdict(list)
        for k, unit in enumerate(units):
            groups[unit[side]].append(k)
        for members in groups.values():
            if len(members) > 1:
                rows += [row] * len(members)
                cols += members
                vals += [1.0] * len(members)
                row += 1
    matrix = coo_matrix((vals, (rows, cols)), shape=(row, n_x + n_y))
    objective = np.concatenate([np.zeros(n_x), -np.ones(n_y)])
    upper = [0.0] * (2 * n_y) + [1.0] * (row - 2 * n_y)
    result = milp(objective, constraints=[LinearConstraint(matrix, -np.inf, upper)],
                  integrality=np.ones(n_x + n_y), bounds=Bounds(0, 1), options={"mip_rel_gap": 0.0})
    if result.status != 0:
        raise RuntimeError(f"METEOR alignment: integer program not solved ({result.message})")
    return int(round(-result.fun))


def _components(pairs: list[tuple[int, int]], n_hyp: int) -> list[list[tuple[int, int]]]:
    """Groups of shared-bigram pairs linked through a hypothesis or reference position (solved independently)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs:
        root = find(i)
        for node in (i + 1, n_hyp + j, n_hyp + j + 1):
            other = find(node)
            if other != root:
                parent[other] = root
    groups: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for pair in pairs:
        groups[find(pair[0])].append(pair)
    return list(groups.values())


def _consistent(pairs: list[tuple[int, int]]) -> bool:
    """No position is wanted at two places: every shared bigram can be used at once."""
    hyp_want: dict[int, int] = {}
    ref_want: dict[int, int] = {}
    for i, j in pairs:
        for a, b in ((i, j), (i + 1, j + 1)):
            if hyp_want.setdefault(a, b) != b or ref_want.setdefault(b, a) != a:
                return False
    return True


def max_adjacencies(hyp: Sequence[Hashable], ref: Sequence[Hashable]) -> int:
    """The largest number of adjacencies over one-to-one exact matchings (see the module docstring)."""
    if len(hyp) < 2 or len(ref) < 2:
        return 0
    hyp_bigrams = list(zip(hyp, hyp[1:]))
    ref_bigrams = list(zip(ref, ref[1:]))
    shared = set(hyp_bigrams).intersection(ref_bigrams)
    if not shared:
        return 0
    starts: dict[tuple[str, str], list[int]] = defaultdict(list)
    for j, bigram in enumerate(ref_bigrams):
        if bigram in shared:
            starts[bigram].append(j)
    pairs = [(i, j) for i, bigram in enumerate(hyp_bigrams) if bigram in shared for j in starts[bigram]]
    if not pairs:
        return 0
    if _consistent(pairs):
        return len(pairs)
    total = 0
    for component in _components(pairs, len(hyp)):
        if _consistent(component):
            total += len(component)
            continue
        domain: dict[int, set[int]] = defaultdict(set)
        for i, j in component:
            domain[i].add(j)
            domain[i + 1].add(j + 1)
        value = _branch_and_bound(dict(domain))
        total += value if value is not None else _integer_program(component)
    return total


def matches_and_chunks(hyp: Sequence[Hashable], ref: Sequence[Hashable], hyp_counts: Counter | None = None,
                       ref_counts: Counter | None = None) -> tuple[int, int]:
    """(maximum number of exact matches, fewest chunks among maximum matchings)."""
    hyp_counts = Counter(hyp) if hyp_counts is None else hyp_counts
    ref_counts = Counter(ref) if ref_counts is None else ref_counts
    matches = sum(min(count, ref_counts[t]) for t, count in hyp_counts.items() if t in ref_counts)
    if matches == 0:
        return 0, 0
    return matches, matches - max_adjacencies(hyp, ref)


