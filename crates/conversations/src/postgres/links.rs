//! Conversations tied to their ids in a helpdesk ([`HelpdeskLinks`]) on Postgres.

use async_trait::async_trait;
use fathom_core::WorkspaceId;
use uuid::Uuid;

use super::{backend, PostgresStore};
use crate::model::ConversationId;
use crate::{HelpdeskLinks, StoreError};

#[async_trait]
impl HelpdeskLinks for PostgresStore {
    async fn link_external(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        external_id: &str,
        id: ConversationId,
    ) -> Result<ConversationId, StoreError> {
        const OP: &str = "link external conversation";
        let client = self.client(OP).await?;
        // The no-op update makes RETURNING give the row that won when the link exists already.
        let linked: Uuid = client
            .query_one(
                "INSERT INTO external_conversations (workspace, source, external_id, conversation_id)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (workspace, source, external_id)
                 DO UPDATE SET conversation_id = external_conversations.conversation_id
                 RETURNING conversation_id",
                &[&workspace.as_str(), &source, &external_id, id.as_uuid()],
            )
            .await
            .map_err(backend(OP))?
            .get(0);
        Ok(ConversationId::from(linked))
    }

    async fn find_external(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        external_id: &str,
    ) -> Result<Option<ConversationId>, StoreError> {
        const OP: &str = "find external conversation";
        let client = self.client(OP).await?;
        let statement = client
            .prepare_cached(
                "SELECT conversation_id FROM external_conversations
                 WHERE workspace = $1 AND source = $2 AND external_id = $3",
            )
            .await
            .map_err(backend(OP))?;
        Ok(client
            .query_opt(&statement, &[&workspace.as_str(), &source, &external_id])
            .await
            .map_err(backend(OP))?
            .map(|row| ConversationId::from(row.get::<_, Uuid>(0))))
    }

    async fn external_id_of(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        id: ConversationId,
    ) -> Result<Option<String>, StoreError> {
        const OP: &str = "find external id";
        let client = self.client(OP).await?;
        let statement = client
            .prepare_cached(
                "SELECT external_id FROM external_conversations
                 WHERE workspace = $1 AND source = $2 AND conversation_id = $3
                 ORDER BY linked LIMIT 1",
            )
            .await
            .map_err(backend(OP))?;
        Ok(client
            .query_opt(&statement, &[&workspace.as_str(), &source, id.as_uuid()])
            .await
            .map_err(backend(OP))?
            .map(|row| row.get(0)))
    }
}
