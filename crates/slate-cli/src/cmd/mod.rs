//! One module per subcommand.

pub(crate) mod capacity;
pub(crate) mod cluster;
pub(crate) mod demo;
pub(crate) mod gen_data;
pub(crate) mod import;
pub(crate) mod info;
pub(crate) mod policy;
pub(crate) mod report;
pub(crate) mod run;
#[cfg(feature = "serve")]
pub(crate) mod serve;
pub(crate) mod stream;
pub(crate) mod validate;
