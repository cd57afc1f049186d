//! Provider presets through `POST /in/{source}` on a running gateway: each preset's
//! published vectors, its rejections, splitting, handshakes, rotation, `hookd send`, and
//! the recipes under `examples/`.

mod forms;
mod highlevel;
mod hmac;
mod meta;
mod recipes;
mod send;
