"""cd7sim: patient-pathway simulation of CD7 CAR-T therapy and allogeneic HSCT."""

__version__ = "0.1.0"
