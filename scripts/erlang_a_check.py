"""Independent check of Erlang A (M/M/n+M), pure Python, nothing shared with slate: the
stationary law of the number in system from the birth-death chain (plain products, truncated
at kmax), P(abandon) = theta E[queue] / lambda, and the probability of being answered within t
from the tagged caller's position in the queue (uniformisation of its CTMC).

    python3 scripts/erlang_a_check.py CALLS_PER_HOUR,AHT_S,PATIENCE_S,AGENTS,THRESHOLD_S ...

prints P(wait), P(abandon), the share of answered calls answered within the threshold and the
share of all offered calls answered within it, after the issue's reference case."""
import math, sys

def erlang_a(lam, aht, patience, n, t, kmax=400):
    mu, th = 1.0 / aht, 1.0 / patience
    # stationary distribution of the number in system
    w = [1.0]
    for k in range(1, kmax):
        death = min(k, n) * mu + max(k - n, 0) * th
        w.append(w[-1] * lam / death)
    z = sum(w)
    pi = [x / z for x in w]
    p_wait = sum(pi[n:])
    eq = sum((k - n) * pi[k] for k in range(n, kmax))
    p_ab = th * eq / lam
    # tagged arrival finding k >= n waits at position i = k - n (i callers ahead)
    # state: i ahead; forward rate n mu + i th; own abandonment th.
    lam_u = n * mu + kmax * th + th
    # P(served by t | i ahead) via uniformisation: sum_m Pois(m; lam_u t) P(served within m jumps)
    # p[i] after m jumps: probability that starting with i ahead we have been served by jump m.
    M = int(lam_u * t + 10 * math.sqrt(lam_u * t + 1) + 20)
    imax = kmax - n
    # dynamic programming forward: dist over states (i ahead, or 'served', or 'gone')
    within_offered = sum(pi[:n])
    # distribution over ahead-counts for a waiting arrival
    dist = [pi[n + i] for i in range(imax)]
    served = 0.0
    pois = math.exp(-lam_u * t)
    acc = pois * served
    cum = pois
    for m in range(1, M + 1):
        nd = [0.0] * imax
        for i, p in enumerate(dist):
            if p == 0.0:
                continue
            fwd = (n * mu + i * th) / lam_u
            ab = th / lam_u
            if i == 0:
                served += p * fwd
            else:
                nd[i - 1] += p * fwd
            nd[i] += p * (1 - fwd - ab)
        dist = nd
        pois *= lam_u * t / m
        acc += pois * served
        cum += pois
    within_offered += acc + (1 - cum) * served
    p_ans = 1 - p_ab
    return dict(p_wait=p_wait, p_abandon=p_ab, sl_answered=within_offered / p_ans,
                sl_offered=within_offered)

if __name__ == "__main__":
    # the reference: 100 calls / 30 min, 180 s, patience 300 s, 14 agents
    r = erlang_a(100 / 1800, 180, 300, 14, 20)
    print("reference:", {k: round(v, 6) for k, v in r.items()}, "(issue: P(wait) 0.14526, P(abandon) 0.013984)")
    for line in sys.argv[1:]:
        calls, aht, pat, n, t = map(float, line.split(","))
        r = erlang_a(calls / 3600, aht, pat, int(n), t)
        print(line, {k: round(v, 5) for k, v in r.items()})
