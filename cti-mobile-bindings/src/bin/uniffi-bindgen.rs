//! The bindings generator: `uniffi-bindgen generate --library <lib> --language kotlin|swift|python`.
fn main() {
    uniffi::uniffi_bindgen_main()
}
