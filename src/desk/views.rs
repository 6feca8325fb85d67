//! Read models the window needs that no other use case provides: the token index that lets a
//! table jump deep into a listing, computed on its own connection (for a background thread).

use std::path::Path;

use super::{DeskError, SortDirection, TokenCursor, TokenFilter, TokenSort};
use crate::storage::Store;

pub use crate::storage::AuditFilter;

/// Where each page of a filtered, sorted token listing starts, and how many rows it has.
#[derive(Clone, Debug, Default)]
pub struct TokenIndex {
    /// Rows the filter shows.
    pub count: u64,
    /// Element `k` is the cursor before row `k × stride` (`None` for the first row).
    pub anchors: Vec<Option<TokenCursor>>,
    pub stride: usize,
}

/// What a token index is computed for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenIndexRequest {
    pub filter: TokenFilter,
    pub sort: TokenSort,
    pub direction: SortDirection,
    pub stride: usize,
}

/// Counts the rows and collects page anchors on a fresh connection to the database at `path`.
/// One pass over the rows in order; `should_stop` lets a newer request abandon it.
pub fn token_index(
    path: &Path,
    request: &TokenIndexRequest,
    should_stop: &dyn Fn() -> bool,
) -> Result<TokenIndex, DeskError> {
    let store = Store::open(path)?;
    token_index_in(&store, request, should_stop)
}

/// The same as [`token_index`], on an open store (in-memory databases have no path to reopen).
pub fn token_index_in(
    store: &Store,
    request: &TokenIndexRequest,
    should_stop: &dyn Fn() -> bool,
) -> Result<TokenIndex, DeskError> {
    let (anchors, count) = store.db().counted_token_anchors(
        &request.filter,
        request.sort,
        request.direction,
        request.stride,
        should_stop,
    )?;
    Ok(TokenIndex {
        count,
        anchors,
        stride: request.stride,
    })
}

impl super::Desk {
    /// The token index for `request`, on this desk's own connection.
    pub fn token_index(&self, request: &TokenIndexRequest) -> Result<TokenIndex, DeskError> {
        token_index_in(self.store(), request, &|| false)
    }

    /// Ids to jump into an owner listing: element `k` is the id just before row `k × stride`.
    pub fn owner_anchors(
        &self,
        kind: crate::domain::OwnerKind,
        filter: &super::OwnerFilter,
        stride: usize,
    ) -> Result<Vec<i64>, DeskError> {
        Ok(self.store().db().owner_anchors(kind, filter, stride)?)
    }

    /// Whether the database lives in a file another connection can open.
    pub fn has_file(&self) -> bool {
        self.path().as_os_str() != ":memory:"
    }
}
