//! The OpenAPI 3.1 document: its frame (title, security scheme, shared schemas); the
//! operations come from the handlers' own annotations as the resource routers merge.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{ErrorBody, ErrorDetail, FieldProblem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookd management API",
        description = "Events, jobs, queues, configuration and tokens of a hookd gateway."
    ),
    components(schemas(ErrorBody, ErrorDetail, FieldProblem)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub(super) struct ApiDoc;

/// Declares the bearer token every operation needs.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}
