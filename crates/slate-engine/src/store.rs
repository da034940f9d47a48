//! Where a session finds the stores its files live in: the local file system, and an S3 store
//! per bucket, built on first use from the AWS environment ([`slate_io::object::s3_store`]).
//!
//! The client's session, a cluster's scheduler and each of its executors use this registry,
//! so every process reads an `s3://` URL the same way, each with its own environment's
//! credentials; nothing about the store travels with the plan.

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::RuntimeEnv;
use object_store::ObjectStore;
use url::Url;

/// DataFusion's registry, which creates an `s3://bucket` store when first asked for one.
#[derive(Debug, Default)]
pub struct ObjectStores {
    known: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for ObjectStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        if url.scheme() != slate_io::object::S3_SCHEME {
            return self.known.get_store(url);
        }
        let bucket = url.host_str().unwrap_or_default();
        let store = slate_io::object::s3_store(bucket)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        // Two tasks asking at once build two equal stores; the later one is kept.
        self.known.register_store(url, store.clone());
        Ok(store)
    }
}

/// A fresh registry (see the module docs).
pub fn object_stores() -> Arc<dyn ObjectStoreRegistry> {
    Arc::new(ObjectStores::default())
}

/// DataFusion's default runtime with slate's object stores.
pub fn runtime_env() -> Arc<RuntimeEnv> {
    Arc::new(RuntimeEnv {
        object_store_registry: object_stores(),
        ..RuntimeEnv::default()
    })
}
