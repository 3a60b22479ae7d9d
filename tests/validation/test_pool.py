"""The light FIFO pool gives the same service start days as SimPy's own Resource (the reference),
including patients who leave the queue when a latent event comes first."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from sim.engines.pool import ServerPool


def simpy_reference(arrivals, holds, leaves, capacity):
    env = simpy.Environment()
    resource = simpy.Resource(env, capacity)
    starts = [math.nan] * len(arrivals)

    def patient(i):
        yield env.timeout(arrivals[i])
        request = resource.request()
        outcome = yield request | env.timeout(leaves[i] - env.now)
        if request not in outcome:
            request.cancel()
            return
        starts[i] = env.now
        yield env.timeout(holds[i])
        resource.release(request)

    for i in range(len(arrivals)):
        env.process(patient(i))
    env.run()
    return np.array(starts)


def pool_starts(arrivals, holds, leaves, capacity):
    pool = ServerPool(capacity)
    starts = np.full(len(arrivals), np.nan)
    for i in np.argsort(arrivals, kind="stable"):
        start = pool.start_day(arrivals[i])
        if start < leaves[i]:
            pool.occupy(start + holds[i])
            starts[i] = start
    return starts


@pytest.mark.parametrize("capacity, load", [(1, 0.8), (2, 1.2), (3, 0.9), (5, 1.5)])
def test_pool_matches_simpy_resource(capacity, load):
    rng = np.random.default_rng(capacity)
    n = 400
    arrivals = np.cumsum(rng.exponential(1.0, n))
    holds = rng.exponential(capacity * load, n)
    leaves = arrivals + rng.exponential(5.0, n)
    expected = simpy_reference(arrivals, holds, leaves, capacity)
    got = pool_starts(arrivals, holds, leaves, capacity)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, atol=1e-9, equal_nan=True)
    assert np.isnan(got).any(), "the setting should make some patients leave the queue"


def test_unlimited_pool_never_delays():
    pool = ServerPool(None)
    assert [pool.start_day(d) for d in (1.0, 1.0, 2.5)] == [1.0, 1.0, 2.5]


def test_out_of_order_arrivals_are_refused():
    pool = ServerPool(1)
    pool.start_day(5.0)
    with pytest.raises(ValueError, match="out of order"):
        pool.start_day(4.0)
