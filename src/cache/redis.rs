//! Redis cache, shared by every instance of a cluster. Values are JSON with an `EX` TTL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::{Cache, CacheError, CacheKey};
use crate::models::Resolution;

pub struct RedisCache {
    conn: ConnectionManager,
}

impl RedisCache {
    /// Connects (and reconnects on its own later) to the server at `url`.
    pub async fn connect(url: &str) -> Result<Self, CacheError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(2));
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(RedisCache { conn })
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &CacheKey) -> Result<Option<Arc<Resolution>>, CacheError> {
        let mut conn = self.conn.clone();
        let raw: Option<Vec<u8>> = conn.get(key.to_string()).await?;
        match raw {
            Some(bytes) => Ok(Some(Arc::new(serde_json::from_slice(&bytes)?))),
            None => Ok(None),
        }
    }

    async fn put(
        &self,
        key: &CacheKey,
        value: Arc<Resolution>,
        ttl: Duration,
    ) -> Result<(), CacheError> {
        let bytes = serde_json::to_vec(&*value)?;
        let mut conn = self.conn.clone();
        let _: () = conn
            .set_ex(key.to_string(), bytes, ttl.as_secs().max(1))
            .await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}
