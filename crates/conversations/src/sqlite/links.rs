//! Conversations tied to their ids in a helpdesk ([`HelpdeskLinks`]).

use async_trait::async_trait;
use fathom_core::WorkspaceId;
use rusqlite::{params, OptionalExtension};

use super::{backend, SqliteStore};
use crate::model::ConversationId;
use crate::rows::corrupt;
use crate::{HelpdeskLinks, StoreError};

#[async_trait]
impl HelpdeskLinks for SqliteStore {
    async fn link_external(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        external_id: &str,
        id: ConversationId,
    ) -> Result<ConversationId, StoreError> {
        let (workspace, source, external_id) = (
            workspace.clone(),
            source.to_string(),
            external_id.to_string(),
        );
        self.write("link external conversation", move |connection| {
            const OP: &str = "link external conversation";
            connection
                .execute(
                    "INSERT OR IGNORE INTO external_conversations (workspace, source, external_id, conversation_id)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![workspace.as_str(), source, external_id, id.to_string()],
                )
                .map_err(backend(OP))?;
            let linked: String = connection
                .query_row(
                    "SELECT conversation_id FROM external_conversations
                     WHERE workspace = ?1 AND source = ?2 AND external_id = ?3",
                    params![workspace.as_str(), source, external_id],
                    |row| row.get(0),
                )
                .map_err(backend(OP))?;
            ConversationId::parse(&linked).ok_or_else(|| corrupt(OP, linked))
        })
        .await
    }

    async fn find_external(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        external_id: &str,
    ) -> Result<Option<ConversationId>, StoreError> {
        let (workspace, source, external_id) = (
            workspace.clone(),
            source.to_string(),
            external_id.to_string(),
        );
        self.read("find external conversation", move |connection| {
            const OP: &str = "find external conversation";
            let linked: Option<String> = connection
                .query_row(
                    "SELECT conversation_id FROM external_conversations
                     WHERE workspace = ?1 AND source = ?2 AND external_id = ?3",
                    params![workspace.as_str(), source, external_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend(OP))?;
            linked
                .map(|raw| ConversationId::parse(&raw).ok_or_else(|| corrupt(OP, raw)))
                .transpose()
        })
        .await
    }

    async fn external_id_of(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        id: ConversationId,
    ) -> Result<Option<String>, StoreError> {
        let (workspace, source) = (workspace.clone(), source.to_string());
        self.read("find external id", move |connection| {
            connection
                .query_row(
                    "SELECT external_id FROM external_conversations
                     WHERE workspace = ?1 AND source = ?2 AND conversation_id = ?3
                     ORDER BY rowid LIMIT 1",
                    params![workspace.as_str(), source, id.to_string()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend("find external id"))
        })
        .await
    }
}
