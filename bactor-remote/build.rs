//! Compiles `proto/` with protox (pure Rust: no `protoc` needed) and generates the prost
//! messages and the tonic service.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/bactor/remote/v1/remote.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // The connection code is ours (it needs custom connectors for TLS and simulation).
        .build_transport(false)
        // Payloads are `Bytes`: decoding a frame slices them out of its buffer.
        .bytes(".bactor.remote.v1.Envelope.payload")
        .bytes(".bactor.remote.v1.Batch.packed")
        .compile_fds(fds)?;
    Ok(())
}
