//! The crate's own macros, declared before every module that uses them.

/// `Debug` as the `Display` message, for the public errors: `?` in `main` prints an error's `Debug`, and whoever
/// reads it wants the message, not the variant's name. Exported (hidden) for the workspace's other crates' errors.
#[doc(hidden)]
#[macro_export]
macro_rules! debug_is_display {
    ($($error:ty),*) => {$(
        impl ::std::fmt::Debug for $error {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(self, f)
            }
        }
    )*};
}
