"""The teaching app (``cd7sim app``): a Streamlit page over the library facade :mod:`sim.api`, with the lessons of
``scenarios/lessons/``. ``main.py`` is the page script Streamlit runs; :mod:`sim.app.controls` holds what the
controls change, without Streamlit."""
