"""How time passes: the SimPy discrete-event engine with queues, the vectorised cohort engine, and
referrals over calendar time. The only layer that imports simpy."""
