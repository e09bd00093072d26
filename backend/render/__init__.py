"""Software rendering helpers (numpy): rasterization, splatting, previews."""
