//! Rendering: plans as text, JSON and markdown. Renderers return strings; `run` prints them.
