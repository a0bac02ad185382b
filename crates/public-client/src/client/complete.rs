//! Completing a grant: run the credential's step, then check the ID token, build the account
//! and the record, and write the cache, whatever grant the step ran.

use super::*;

impl<S: InteractiveStep> PublicClient<S> {
    /// Runs the credential's step and completes its response.
    pub(super) async fn interactive(
        &self,
        endpoints: &Endpoints,
        scopes: &[&str],
        claims: Option<&str>,
        cae: bool,
    ) -> Result<(AccessTokenInfo, AuthenticationRecord)> {
        let claims = merge_client_capabilities(claims, cae)?;
        let net = self.net()?;
        let ctx = StepContext {
            client_id: &self.client_id,
            endpoints,
            scopes,
            claims: claims.as_deref(),
            client: &net.client,
            support_logging: self.enable_support_logging,
        };
        let outcome = self.step.sign_in(&ctx).await?;
        self.complete(endpoints, scopes, cae, outcome).await
    }

    /// Completes a grant's token response, whatever grant produced it: checks the ID token
    /// (audience, nonce when given, expiry, issuer), builds the account and the
    /// [`AuthenticationRecord`] (authority: the configured one), writes tokens and account to
    /// the cache partition of `cae`, and makes the account the signed-in one.
    ///
    /// # Errors
    /// [`ClientAuthentication`](ErrorKind::ClientAuthentication) when the response has no
    /// usable ID token; the cache's errors.
    pub async fn complete(
        &self,
        endpoints: &Endpoints,
        scopes: &[&str],
        cae: bool,
        outcome: StepOutcome,
    ) -> Result<(AccessTokenInfo, AuthenticationRecord)> {
        let StepOutcome {
            response,
            nonce,
            account_source,
        } = outcome;
        let unexpected = || {
            Error::client_authentication(
                "Failed to build AuthenticationRecord from unexpected identity token",
            )
        };
        let id_token = response.id_token.as_ref().ok_or_else(unexpected)?;
        let id_claims = IdTokenValidation::new(&self.client_id, endpoints)
            .with_nonce(nonce.as_ref())
            .verify(id_token)?;
        let record_error = |e: MsalError| unexpected().with_source(e);
        let record = authentication_record(
            &id_claims,
            response.client_info.as_ref(),
            &endpoints.authority,
        )
        .map_err(record_error)?;
        let account = Account::from_id_token(
            &id_claims,
            response.client_info.as_ref(),
            &endpoints.authority,
        )
        .map_err(record_error)?;
        let account_write = AccountWrite::new(&account.local_account_id, &account.username)
            .with_authority_type(account.authority_type)
            .with_account_source(account_source);
        let write = self.token_write(
            endpoints,
            scopes,
            &response,
            Some(&account.home_account_id),
            Some(account_write),
        );
        let cache = self.cache(cae)?;
        cache
            .write_token_response(&write, response.received_at)
            .await?;
        // A different user may have signed in: forget the previous user's ready tokens.
        let previous = self.record.swap(Some(Arc::new(record.clone())));
        if previous.is_some_and(|p| p.home_account_id() != record.home_account_id()) {
            self.front.clear();
        }
        if self.enable_support_logging {
            tracing::info!(
                username = record.username(),
                home_tenant = record.tenant_id(),
                home_account_id = record.home_account_id(),
                local_account_id = %account.local_account_id,
                "signed in"
            );
        } else {
            tracing::info!("signed in");
        }
        Ok((response.access_token_info(), record))
    }
}
