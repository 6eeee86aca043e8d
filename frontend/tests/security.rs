//! Issue 9's frontend findings, in-process: DNS rebinding (served hosts, `Origin` against them,
//! a moved URL needs its key), server-side sessions, login throttling, `next`, `Secure`
//! cookies, input limits, secrets in shown JSON, and the size of a model page whatever the
//! database holds. `support` fails any answer that leaks a key.

mod support;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use shared::db::{config, jobs, providers, sessions};
use shared::jobs::JobRequest;
use shared::types::ProviderType;
use shared::{Secret, limits};
use support::{Api, CLOUD_SECRET, LITELLM_KEY, PARAMS_KEY, PROVIDER_KEY, Reply, TOKEN};

fn with_host(method: Method, uri: &str, host: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri).header(header::HOST, host)
}

fn location(reply: &Reply) -> &str {
    reply.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn set_cookie(reply: &Reply) -> String {
    reply.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

/// `lu_session=<id>` from a login answer.
fn session_of(reply: &Reply) -> String {
    set_cookie(reply).split(';').next().unwrap_or("").to_owned()
}

async fn login(api: &Api, token: &str, extra: &[(&str, &str)]) -> Reply {
    let body = url::form_urlencoded::Serializer::new(String::new()).append_pair("token", token).finish();
    let mut request =
        Api::request(Method::POST, "/login").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    api.send(request.body(Body::from(body)).expect("request")).await
}

fn with_cookie(method: Method, uri: &str, cookie: &str) -> Request<Body> {
    Api::request(method, uri).header(header::COOKIE, cookie).body(Body::empty()).expect("request")
}

mod rebinding {
    use super::*;

    #[tokio::test]
    async fn only_served_host_names_are_answered_on_every_route() {
        let api = Api::new().await;
        for path in ["/health", "/api/providers", "/", "/static/app.js", "/login", "/metrics"] {
            for host in ["rebind.evil.example:8000", "evil.example", "127.0.0.1.evil.example:8000"] {
                let reply = api.send(with_host(Method::GET, path, host).body(Body::empty()).expect("request")).await;
                reply.expect_error(StatusCode::MISDIRECTED_REQUEST, "ALLOWED_HOSTS");
            }
        }
        let no_host = Request::get("/api/providers").body(Body::empty()).expect("request");
        api.send(no_host).await.expect_error(StatusCode::MISDIRECTED_REQUEST, "Host header is required");
        for host in ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "localhost", "LOCALHOST:9"] {
            let reply = api.send(with_host(Method::GET, "/health", host).body(Body::empty()).expect("request")).await;
            reply.expect(StatusCode::OK);
        }
    }

    #[tokio::test]
    async fn a_rebinding_page_cannot_re_point_litellm() {
        let api = Api::new().await;
        config::set_litellm(api.db(), Some("http://litellm:4000"), Some(&Secret::new(LITELLM_KEY))).await.expect("set");
        let before = api.fingerprint().await;
        // What the browser sends once evil.example resolves to 127.0.0.1: its own name, both times.
        let attack = with_host(Method::PUT, "/api/admin/config", "rebind.evil.example:8000")
            .header(header::ORIGIN, "http://rebind.evil.example:8000")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"litellm_base_url": "http://capture.evil.example"}).to_string()))
            .expect("request");
        assert_eq!(api.send(attack).await.status, StatusCode::MISDIRECTED_REQUEST);
        // An `Origin` is compared with the served names, not with `Host`.
        let forged = Api::request(Method::PUT, "/api/admin/config")
            .header(header::ORIGIN, "http://rebind.evil.example:8000")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"litellm_base_url": "http://capture.evil.example"}).to_string()))
            .expect("request");
        api.send(forged).await.expect_error(StatusCode::FORBIDDEN, "cross-site");
        assert_eq!(api.fingerprint().await, before, "nothing changed");
    }

    #[tokio::test]
    async fn configured_names_are_served_and_may_post() {
        let api = Api::with_settings(None, |s| s.allowed_hosts.push("updater.example.com".into())).await;
        let post = with_host(Method::POST, "/api/providers", "updater.example.com")
            .header(header::ORIGIN, "https://updater.example.com")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({"name": "lab", "type": "ollama", "base_url": "http://lab:11434"}).to_string()))
            .expect("request");
        api.send(post).await.expect(StatusCode::CREATED);
    }

    #[tokio::test]
    async fn a_moved_litellm_url_needs_its_key_again() {
        let api = Api::new().await;
        config::set_litellm(api.db(), Some("http://litellm:4000"), Some(&Secret::new(LITELLM_KEY))).await.expect("set");
        let before = api.fingerprint().await;
        for body in [
            json!({"litellm_base_url": "http://capture.example:4000"}),
            json!({"litellm_base_url": "http://capture.example:4000", "litellm_api_key": ""}),
            json!({"litellm_base_url": "http://capture.example:4000", "sync_interval_seconds": 60}),
        ] {
            api.json(Method::PUT, "/api/admin/config", body)
                .await
                .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "enter the key again");
        }
        assert_eq!(api.fingerprint().await, before, "nothing changed, not even the interval");
        let same =
            api.json(Method::PUT, "/api/admin/config", json!({"litellm_base_url": "http://litellm:4000/"})).await;
        same.expect(StatusCode::OK);
        let removed = json!({"litellm_base_url": "http://new:4000", "clear_litellm_api_key": true});
        api.json(Method::PUT, "/api/admin/config", removed).await.expect(StatusCode::OK);
        let saved = config::get(api.db()).await.expect("config");
        assert_eq!((saved.litellm_url(), saved.litellm_api_key.is_none()), (Some("http://new:4000"), true));
    }
}

mod sessions_and_login {
    use super::*;

    #[tokio::test]
    async fn logout_ends_the_session_on_the_server() {
        let api = Api::with_token(Some(TOKEN)).await;
        let reply = login(&api, TOKEN, &[]).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let cookie = session_of(&reply);
        let id = cookie.trim_start_matches("lu_session=");
        assert!(id.len() >= 32, "a random id: {cookie}");
        let stored: Vec<String> = api
            .db()
            .rows_for_tests("SELECT id_hash FROM sessions", &[])
            .await
            .into_iter()
            .map(|row| row.into_iter().flatten().collect())
            .collect();
        assert_eq!(stored.len(), 1);
        assert!(!stored[0].contains(id), "only a hash of the id is stored");

        assert_eq!(api.send(with_cookie(Method::GET, "/api/providers", &cookie)).await.status, StatusCode::OK);
        let logout = api.send(with_cookie(Method::POST, "/logout", &cookie)).await;
        assert_eq!(logout.status, StatusCode::SEE_OTHER);
        assert!(set_cookie(&logout).contains("Max-Age=0"));
        // A copy of the cookie kept from before the logout is worth nothing now.
        api.send(with_cookie(Method::GET, "/api/providers", &cookie))
            .await
            .expect_error(StatusCode::UNAUTHORIZED, "authentication required");
        let page = api.send(with_cookie(Method::GET, "/", &cookie)).await;
        assert_eq!((page.status, location(&page)), (StatusCode::SEE_OTHER, "/login?next=%2F"));
        let forged = "lu_session=4000000000.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(api.send(with_cookie(Method::GET, "/api/providers", forged)).await.status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn sessions_are_shared_by_frontends_and_end_when_the_token_changes() {
        let api = Api::with_token(Some(TOKEN)).await;
        let cookie = session_of(&login(&api, TOKEN, &[]).await);
        let replica = api.sibling(Some(TOKEN));
        assert_eq!(
            api.send_to(&replica, with_cookie(Method::GET, "/api/providers", &cookie)).await.status,
            StatusCode::OK
        );
        let rotated = api.sibling(Some("a-brand-new-admin-token-456789"));
        let reply = api.send_to(&rotated, with_cookie(Method::GET, "/api/providers", &cookie)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "a changed ADMIN_TOKEN logs everyone out");
        api.db().execute_for_tests("UPDATE sessions SET expires_at = 1", &[]).await;
        assert_eq!(
            api.send(with_cookie(Method::GET, "/api/providers", &cookie)).await.status,
            StatusCode::UNAUTHORIZED
        );
        let fingerprint = sessions::token_fingerprint(TOKEN);
        assert!(!fingerprint.contains(TOKEN));
    }

    #[tokio::test]
    async fn wrong_tokens_are_throttled_per_client_and_overall() {
        let api = Api::with_token(Some(TOKEN)).await;
        let from = |ip: [u8; 4], request: axum::http::request::Builder| {
            request.extension(ConnectInfo(SocketAddr::from((ip, 40000))))
        };
        let attempt = |ip: [u8; 4], token: &str| {
            let body = format!("token={token}");
            from(ip, Api::request(Method::POST, "/login"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("request")
        };
        for _ in 0..frontend::throttle::PER_CLIENT {
            assert_eq!(api.send(attempt([10, 0, 0, 1], "guess")).await.status, StatusCode::UNAUTHORIZED);
        }
        let throttled = api.send(attempt([10, 0, 0, 1], "guess")).await;
        assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = throttled
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .expect("Retry-After");
        assert!((1..=60).contains(&retry), "{retry}");
        assert!(throttled.text().contains("Too many wrong admin tokens"));
        let right = api.send(attempt([10, 0, 0, 1], TOKEN)).await;
        assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS, "while throttled, the right token is no different");
        let bearer = from([10, 0, 0, 1], Api::request(Method::GET, "/api/providers"))
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .expect("request");
        let reply = api.send(bearer).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "bearer guesses count the same");
        assert!(reply.headers.contains_key(header::RETRY_AFTER));
        assert_eq!(api.send(attempt([10, 0, 0, 2], TOKEN)).await.status, StatusCode::SEE_OTHER, "another client may");

        // Spread over many addresses, the overall limit holds.
        for i in 0..frontend::throttle::OVERALL {
            let bearer = from([10, 1, (i / 200) as u8, (i % 200) as u8], Api::request(Method::GET, "/api/providers"))
                .header(header::AUTHORIZATION, "Bearer guess")
                .body(Body::empty())
                .expect("request");
            api.send(bearer).await;
        }
        assert_eq!(api.send(attempt([10, 9, 9, 9], "guess")).await.status, StatusCode::TOO_MANY_REQUESTS);
    }

    #[tokio::test]
    async fn next_is_followed_only_to_a_local_path() {
        let api = Api::with_token(Some(TOKEN)).await;
        for (next, expected) in [
            ("/models?page=2", "/models?page=2"),
            ("/%09/evil.example", "/"),
            ("/\t/evil.example", "/"),
            ("/\r\nSet-Cookie: a=b", "/"),
            ("/a\0", "/"),
            ("/%2F/evil.example", "/"),
            ("//evil.example", "/"),
            ("/\\evil.example", "/"),
            ("https://evil.example", "/"),
        ] {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", TOKEN)
                .append_pair("next", next)
                .finish();
            let request = Api::request(Method::POST, "/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("request");
            let reply = api.send(request).await;
            assert_eq!((reply.status, location(&reply)), (StatusCode::SEE_OTHER, expected), "{next:?}");
            let form = api
                .get(&format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                ))
                .await;
            form.expect(StatusCode::OK);
            assert!(form.text().contains(&format!("value=\"{}\"", expected.replace('&', "&amp;"))), "{next:?}");
        }
    }

    #[tokio::test]
    async fn the_cookie_is_secure_behind_https_or_when_told() {
        let api = Api::with_token(Some(TOKEN)).await;
        assert!(!set_cookie(&login(&api, TOKEN, &[]).await).contains("Secure"), "plain http on loopback");
        for proxy in [("x-forwarded-proto", "https"), ("forwarded", "for=10.0.0.1;proto=https")] {
            let cookie = set_cookie(&login(&api, TOKEN, &[proxy]).await);
            assert!(
                cookie.contains("; Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
                "{cookie}"
            );
        }
        let told = Api::with_settings(Some(TOKEN), |s| s.secure_cookies = true).await;
        assert!(set_cookie(&login(&told, TOKEN, &[]).await).contains("; Secure"));
    }
}

mod inputs {
    use super::*;

    #[tokio::test]
    async fn oversized_values_are_refused_naming_the_limit() {
        let api = Api::new().await;
        let before = api.fingerprint().await;
        let provider = |change: Value| {
            let mut body = json!({"name": "lab", "type": "ollama", "base_url": "http://lab:11434"});
            if let (Some(body), Value::Object(change)) = (body.as_object_mut(), change) {
                body.extend(change);
            }
            body
        };
        let cases = [
            (json!({"name": "n".repeat(250_000)}), "the limit is 100"),
            (json!({"name": "la\rb"}), "control characters"),
            (json!({"base_url": format!("http://lab/{}", "u".repeat(3000))}), "the limit is 2048"),
            (json!({"tags": (0..20_000).map(|i| format!("t{i}")).collect::<Vec<_>>()}), "the limit is 64"),
            (json!({"access_groups": ["g".repeat(101)]}), "limit of 100"),
            (json!({"prefix": "p".repeat(101)}), "the limit is 100"),
        ];
        for (change, needle) in cases {
            api.json(Method::POST, "/api/providers", provider(change))
                .await
                .expect_error(StatusCode::UNPROCESSABLE_ENTITY, needle);
        }
        assert_eq!(api.fingerprint().await, before, "nothing was stored");

        let lab = api.provider("lab", ProviderType::Ollama, None).await;
        let models = api.models(&lab, &["llama3.2:3b"]).await;
        let alias =
            json!({"model_name": "m".repeat(200_000), "mapped_provider_id": lab.id, "mapped_model_id": "llama3.2:3b"});
        api.json(Method::POST, "/api/compat/models", alias)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "the limit is 512");
        let params = json!({"user_params": {"x": "y".repeat(limits::PARAMS_BYTES)}});
        let uri = format!("/api/models/{}", models[0].id);
        api.json(Method::PATCH, &uri, params).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "limit is 16 KiB");
        let tags = json!({"user_tags": (0..65).map(|i| i.to_string()).collect::<Vec<_>>()});
        api.json(Method::PATCH, &uri, tags).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "the limit is 64");
        let q = format!("/api/models?q={}", "q".repeat(600));
        api.get(&q).await.expect_error(StatusCode::BAD_REQUEST, "the limit is 512");
    }

    #[tokio::test]
    async fn huge_page_numbers_are_clamped() {
        let api = Api::new().await;
        let lab = api.provider("lab", ProviderType::Ollama, None).await;
        api.models(&lab, &["a", "b"]).await;
        let reply = api.get(&format!("/api/models?page={}", i64::MAX)).await;
        reply.expect(StatusCode::OK);
        assert_eq!(reply.json()["page"], limits::MAX_PAGE);
        assert_eq!(reply.json()["items"], json!([]));
        api.get(&format!("/api/sync-runs?page={}", i64::MAX)).await.expect(StatusCode::OK);
        for page in ["/models", "/history"] {
            api.get(&format!("{page}?page={}", i64::MAX)).await.expect(StatusCode::OK);
        }
    }

    #[tokio::test]
    async fn the_alias_holder_is_validated_too() {
        let api = Api::new().await;
        let compat = providers::compat_provider(api.db()).await.expect("compat");
        let uri = format!("/api/providers/{}", compat.id);
        let before = api.fingerprint().await;
        api.json(Method::PATCH, &uri, json!({"base_url": "javascript:alert(1)"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "base_url cannot change");
        api.json(Method::PATCH, &uri, json!({"sync_interval_seconds": 1}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "at least 30");
        api.json(Method::PATCH, &uri, json!({"tags": (0..65).map(|i| i.to_string()).collect::<Vec<_>>()}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "the limit is 64");
        assert_eq!(api.fingerprint().await, before);
        api.json(Method::PATCH, &uri, json!({"sync_interval_seconds": 60})).await.expect(StatusCode::OK);
    }

    #[tokio::test]
    async fn a_stored_name_with_line_breaks_cannot_forge_metrics() {
        let api = Api::new().await;
        let lab = api.provider("lab", ProviderType::Ollama, None).await;
        // Stored before names were checked (or by an older version).
        api.db()
            .execute_for_tests(
                "UPDATE providers SET name = $1 WHERE id = $2",
                &shared::binds!["lab\r\nlitellm_updater_worker_online 1\r", lab.id],
            )
            .await;
        let run = shared::db::sync_runs::start(
            api.db(),
            Some((lab.id, "lab\r\nlitellm_updater_worker_online 1\r")),
            shared::runs::RunKind::Sync,
            "job",
            None,
        )
        .await
        .expect("run");
        let counts = shared::runs::RunCounts::default();
        shared::db::sync_runs::finish(api.db(), run, shared::runs::RunStatus::Ok, &counts, None).await.expect("finish");
        let text = api.get("/metrics").await.text();
        assert!(!text.contains('\r'), "{text:?}");
        let online: Vec<&str> = text.lines().filter(|l| l.starts_with("litellm_updater_worker_online")).collect();
        assert_eq!(online, ["litellm_updater_worker_online 0"], "no forged sample");
    }
}

mod shown_json {
    use super::*;

    fn cloud_credentials() -> Value {
        json!({"aws_access_key_id": CLOUD_SECRET, "aws_secret_access_key": CLOUD_SECRET,
               "aws_session_token": CLOUD_SECRET, "vertex_credentials": {"private_key": CLOUD_SECRET},
               "vertex_ai_credentials": CLOUD_SECRET, "client_secret": CLOUD_SECRET,
               "azure_ad_token": CLOUD_SECRET, "Authorization": format!("Bearer {CLOUD_SECRET}"),
               "nested": [{"password": CLOUD_SECRET, "private_key": CLOUD_SECRET}], "model": "visible-model"})
    }

    #[tokio::test]
    async fn secret_named_values_are_masked_on_pages_and_in_answers() {
        let api = Api::new().await;
        let lab = api.provider("lab", ProviderType::Ollama, Some(PROVIDER_KEY)).await;
        let model = api.models(&lab, &["llama3.2:3b"]).await.remove(0);
        api.db()
            .execute_for_tests(
                "UPDATE models SET raw_metadata = $1, user_params = $2 WHERE id = $3",
                &shared::binds![
                    cloud_credentials().to_string(),
                    json!({"api_key": PARAMS_KEY, "litellm_params": cloud_credentials()}).to_string(),
                    model.id
                ],
            )
            .await;
        let job = jobs::enqueue(api.db(), &JobRequest::SyncAll).await.expect("job");
        jobs::claim_next(api.db(), "test-worker").await.expect("claim");
        jobs::finish(
            api.db(),
            job,
            "test-worker",
            Some(&json!({"providers": [], "detail": cloud_credentials()})),
            None,
        )
        .await
        .expect("finish");

        // `support` fails any of these that shows CLOUD_SECRET or PARAMS_KEY.
        let page = api.get(&format!("/models/{}", model.id)).await;
        page.expect(StatusCode::OK);
        assert!(page.text().contains("visible-model"), "the rest is shown");
        assert!(page.text().contains("••••"));
        api.get(&format!("/jobs/{job}")).await.expect(StatusCode::OK);
        for path in [
            format!("/api/models/{}", model.id),
            format!("/api/models/{}/raw", model.id),
            format!("/api/models/{}/params", model.id),
            format!("/api/jobs/{job}"),
            "/api/jobs".into(),
        ] {
            api.get(&path).await.expect(StatusCode::OK);
        }
    }

    #[tokio::test]
    async fn the_form_refuses_to_save_masked_or_new_keys_into_params() {
        let api = Api::new().await;
        let lab = api.provider("lab", ProviderType::Ollama, None).await;
        let model = api.models(&lab, &["llama3.2:3b"]).await.remove(0);
        let params = json!({"litellm_params": {"aws_secret_access_key": "••••uvwx"}}).to_string();
        let body = url::form_urlencoded::Serializer::new(String::new()).append_pair("params", &params).finish();
        let reply = api.form(Method::POST, &format!("/models/{}", model.id), &body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.text().contains("must not hold"), "{}", reply.text());
    }

    #[tokio::test]
    async fn a_model_page_is_bounded_whatever_the_database_holds() {
        let api = Api::new().await;
        let lab = api.provider("lab", ProviderType::Ollama, None).await;
        let model = api.models(&lab, &["big"]).await.remove(0);
        let filler: Vec<Value> =
            (0..150_000).map(|i| json!({"layer": i, "weights": "abcdefghijklmnopqrstuvwxyz0123456789"})).collect();
        let raw = json!({"model_info": {"tensors": filler}, "api_key": PROVIDER_KEY}).to_string();
        assert!(raw.len() > 9_000_000, "{}", raw.len());
        api.db()
            .execute_for_tests("UPDATE models SET raw_metadata = $1 WHERE id = $2", &shared::binds![&raw, model.id])
            .await;
        let page = api.get(&format!("/models/{}", model.id)).await;
        page.expect(StatusCode::OK);
        assert!(page.body.len() < 200 * 1024, "the page is {} bytes", page.body.len());
        assert!(page.text().contains("truncated"), "it says so");
        assert!(page.text().contains(&format!("{} bytes in all", thousands(raw.len()))), "and how much there is");
    }

    fn thousands(n: usize) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}
