//! The configuration's layers, precedence, validation and redaction.

use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn layer(toml_text: &str) -> ConfigLayer {
    toml::from_str(toml_text).unwrap()
}

#[test]
fn defaults_without_any_configuration() {
    let cfg = NodeConfig::resolve(
        None,
        ConfigLayer::default(),
        ConfigLayer::default(),
        ConfigLayer::default(),
        no_env,
    )
    .unwrap();
    assert_eq!(cfg.api_listen, DEFAULT_API_LISTEN);
    let ChainTarget::Devnet(devnet) = &cfg.chain else { panic!("devnet by default") };
    assert_eq!(devnet.port, DEVNET_PORT);
    assert_eq!(devnet.chain_id, DEVNET_CHAIN_ID);
    assert_eq!(devnet.state_dir.as_deref(), Some(cfg.data_dir.join("devnet").as_path()));
    assert!(devnet.host.is_loopback());
    assert_eq!(cfg.signer, None);
}

#[test]
fn precedence_is_defaults_file_env_flags() {
    let file = layer(
        "data_dir = \"/from/file\"\n[api]\nlisten = \"127.0.0.1:1111\"\n[devnet]\nport = 1\nchain_id = 5\n",
    );
    let env = ConfigLayer::from_env(|name| match name {
        "AGORA_LISTEN" => Some("127.0.0.1:2222".into()),
        "AGORA_DEVNET_PORT" => Some("2".into()),
        _ => None,
    })
    .unwrap();
    let flags =
        ConfigLayer { devnet: DevnetLayer { port: Some(3), ..Default::default() }, ..Default::default() };
    let cfg = NodeConfig::resolve(None, file, env, flags, no_env).unwrap();
    assert_eq!(cfg.data_dir, PathBuf::from("/from/file"), "file beats default");
    assert_eq!(cfg.api_listen.port(), 2222, "env beats file");
    let ChainTarget::Devnet(devnet) = cfg.chain else { panic!() };
    assert_eq!(devnet.port, 3, "flag beats env");
    assert_eq!(devnet.chain_id, 5, "file value kept when nothing overrides it");
}

#[test]
fn rpc_url_selects_an_external_chain() {
    let flags = ConfigLayer {
        chain: ChainLayer { rpc_url: Some("ws://127.0.0.1:9".into()), ..Default::default() },
        ..Default::default()
    };
    let cfg =
        NodeConfig::resolve(None, ConfigLayer::default(), ConfigLayer::default(), flags, no_env).unwrap();
    assert_eq!(cfg.chain, ChainTarget::Rpc { url: "ws://127.0.0.1:9".into() });
    let bad = ConfigLayer {
        chain: ChainLayer { rpc_url: Some("localhost:8545".into()), ..Default::default() },
        ..Default::default()
    };
    let err =
        NodeConfig::resolve(None, ConfigLayer::default(), ConfigLayer::default(), bad, no_env).unwrap_err();
    assert!(err.to_string().contains("must start with http://"), "{err}");
}

#[test]
fn malformed_or_unknown_keys_in_the_file_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agora.toml");
    std::fs::write(&path, "[api]\nlisten = \"not an address\"\n").unwrap();
    let err = ConfigLayer::from_file(&path).unwrap_err();
    assert!(err.to_string().contains("is malformed"), "{err}");
    assert!(err.to_string().contains("line 2"), "points at the line: {err}");
    std::fs::write(&path, "[api]\nlisen = \"127.0.0.1:1\"\n").unwrap();
    let err = ConfigLayer::from_file(&path).unwrap_err();
    assert!(err.to_string().contains("unknown field `lisen`"), "{err}");
    let err = ConfigLayer::from_file(&dir.path().join("missing.toml")).unwrap_err();
    assert!(err.to_string().contains("cannot read config file"), "{err}");
}

#[test]
fn bad_environment_values_name_the_variable() {
    let err = ConfigLayer::from_env(|n| (n == "AGORA_DEVNET_PORT").then(|| "eighty".into())).unwrap_err();
    assert!(err.to_string().contains("AGORA_DEVNET_PORT=\"eighty\""), "{err}");
}

#[test]
fn secrets_come_from_the_environment_and_are_redacted() {
    let key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    let env = |n: &str| (n == PRIVATE_KEY_ENV).then(|| key.to_owned());
    let cfg = NodeConfig::resolve(
        None,
        ConfigLayer::default(),
        ConfigLayer::default(),
        ConfigLayer::default(),
        env,
    )
    .unwrap();
    assert!(matches!(cfg.signer, Some(SignerSource::PrivateKey(_))));
    let shown = cfg.to_redacted_toml();
    assert!(!shown.contains("ac0974"), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
    assert!(!format!("{cfg:?}").contains("ac0974"));
    // The printed configuration is itself valid TOML.
    let _: toml::Value = toml::from_str(&shown).unwrap();
}

fn listen_flags(listen: &str, token: Option<&str>) -> ConfigLayer {
    ConfigLayer {
        api: ApiLayer {
            listen: Some(listen.parse().unwrap()),
            token: token.map(ApiToken::new),
            allowed_origins: None,
        },
        ..Default::default()
    }
}

#[test]
fn a_non_loopback_api_needs_a_token() {
    let resolve =
        |flags| NodeConfig::resolve(None, ConfigLayer::default(), ConfigLayer::default(), flags, no_env);
    let err = resolve(listen_flags("0.0.0.0:8402", None)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("0.0.0.0:8402") && text.contains("not a loopback address"), "{text}");
    assert!(text.contains("AGORA_API_TOKEN") && text.contains("--api-token"), "says how: {text}");
    assert!(resolve(listen_flags("[::]:8402", None)).is_err());
    assert!(resolve(listen_flags("127.0.0.1:8402", None)).is_ok());
    assert!(resolve(listen_flags("[::1]:8402", None)).is_ok());
    let cfg = resolve(listen_flags("0.0.0.0:8402", Some("0123456789abcdef0123"))).unwrap();
    assert!(cfg.api.token.as_ref().unwrap().matches(b"0123456789abcdef0123"));
    assert!(!cfg.api.token.as_ref().unwrap().matches(b"0123456789abcdef0124"));
    assert!(!cfg.api.token.as_ref().unwrap().matches(b"0123"));
    let err = resolve(listen_flags("0.0.0.0:8402", Some("short"))).unwrap_err();
    assert!(err.to_string().contains("at least 16"), "{err}");
}

#[test]
fn the_token_comes_from_the_environment_and_is_never_shown() {
    let env = ConfigLayer::from_env(|n| match n {
        "AGORA_API_TOKEN" => Some("s3cret-token-value-123".into()),
        "AGORA_API_ALLOWED_ORIGINS" => Some("https://App.example/, http://localhost:3000".into()),
        _ => None,
    })
    .unwrap();
    let cfg = NodeConfig::resolve(None, ConfigLayer::default(), env, ConfigLayer::default(), no_env).unwrap();
    assert!(cfg.api.token.is_some());
    assert_eq!(cfg.api.allowed_origins, ["https://app.example", "http://localhost:3000"]);
    let shown = cfg.to_redacted_toml();
    assert!(!shown.contains("s3cret") && !format!("{cfg:?}").contains("s3cret"), "{shown}");
    let _: toml::Value = toml::from_str(&shown).unwrap();
    let bad = layer("[api]\nallowed_origins = [\"app.example\"]\n");
    let err =
        NodeConfig::resolve(None, bad, ConfigLayer::default(), ConfigLayer::default(), no_env).unwrap_err();
    assert!(err.to_string().contains("not an origin"), "{err}");
}

#[test]
fn key_and_keystore_together_are_refused() {
    let file = layer("[chain]\nkeystore = \"/k.json\"\n");
    let env = |n: &str| (n == PRIVATE_KEY_ENV).then(|| "0x01".to_owned());
    let err =
        NodeConfig::resolve(None, file, ConfigLayer::default(), ConfigLayer::default(), env).unwrap_err();
    assert!(err.to_string().contains("choose one"), "{err}");
}

#[test]
fn the_guard_table_is_layered_like_the_rest() {
    let defaults = NodeConfig::resolve(
        None,
        ConfigLayer::default(),
        ConfigLayer::default(),
        ConfigLayer::default(),
        no_env,
    )
    .unwrap();
    assert_eq!(defaults.guard, agora_guard::GuardConfig::default());
    let file =
        layer("[guard]\nblock_level = \"medium\"\nlisten = \"127.0.0.1:7001\"\nsimulator = \"node\"\n");
    let env = ConfigLayer::from_env(|name| match name {
        "AGORA_GUARD_LISTEN" => Some("127.0.0.1:7002".into()),
        "AGORA_GUARD_CONFIRM" => Some("true".into()),
        _ => None,
    })
    .unwrap();
    let flags = ConfigLayer {
        guard: GuardLayer { simulator: Some(agora_guard::SimulatorKind::Revm), ..Default::default() },
        ..Default::default()
    };
    let cfg = NodeConfig::resolve(None, file, env, flags, no_env).unwrap();
    assert_eq!(cfg.guard.block_level, agora_guard::Level::Medium, "file beats default");
    assert_eq!(cfg.guard.listen.port(), 7002, "env beats file");
    assert!(cfg.guard.confirm);
    assert_eq!(cfg.guard.simulator, agora_guard::SimulatorKind::Revm, "flag beats file");
    assert!(cfg.to_redacted_toml().contains("[guard]\nlisten = \"127.0.0.1:7002\""));
    let printed: ConfigLayer = toml::from_str(&cfg.to_redacted_toml()).unwrap();
    assert_eq!(
        printed.guard.block_level,
        Some(agora_guard::Level::Medium),
        "agora config prints a valid file"
    );
    let bad = ConfigLayer::from_env(|name| (name == "AGORA_GUARD_BLOCK_LEVEL").then(|| "severe".into()));
    assert!(bad.unwrap_err().to_string().contains("AGORA_GUARD_BLOCK_LEVEL"));
    assert!(
        toml::from_str::<ConfigLayer>("[guard]\nblok_level = \"low\"\n").is_err(),
        "unknown keys refused"
    );
}

#[test]
fn the_jobs_table_is_layered_and_checked() {
    let defaults = NodeConfig::resolve(
        None,
        ConfigLayer::default(),
        ConfigLayer::default(),
        ConfigLayer::default(),
        no_env,
    )
    .unwrap();
    assert!(defaults.jobs.provide && !defaults.jobs.validate);
    assert_eq!(
        defaults.jobs.min_price_per_token, defaults.payments.price_per_token,
        "a job is priced like a paid call unless set"
    );
    let file = layer("[payments]\nprice_per_token = 7\n[jobs]\nvalidate = true\naudit_percent = 20\n");
    let env =
        ConfigLayer::from_env(|name| (name == "AGORA_JOBS_AUDIT_PERCENT").then(|| "30".into())).unwrap();
    let cfg = NodeConfig::resolve(None, file, env, ConfigLayer::default(), no_env).unwrap();
    assert!(cfg.jobs.validate, "file beats default");
    assert_eq!(cfg.jobs.audit_percent, 30, "env beats file");
    assert_eq!(cfg.jobs.min_price_per_token, 7);
    let printed: ConfigLayer = toml::from_str(&cfg.to_redacted_toml()).unwrap();
    assert_eq!(printed.jobs.audit_percent, Some(30), "agora config prints a valid file");
    let over = NodeConfig::resolve(
        None,
        layer("[jobs]\naudit_percent = 150\n"),
        ConfigLayer::default(),
        ConfigLayer::default(),
        no_env,
    );
    assert!(over.unwrap_err().to_string().contains("jobs.audit_percent"));
    let bad = ConfigLayer::from_env(|name| (name == "AGORA_JOBS_VALIDATE").then(|| "sometimes".into()));
    assert!(bad.unwrap_err().to_string().contains("AGORA_JOBS_VALIDATE"));
}

#[test]
fn the_router_table_is_layered_and_checked() {
    use agora_router::Privacy;
    let defaults = NodeConfig::resolve(
        None,
        ConfigLayer::default(),
        ConfigLayer::default(),
        ConfigLayer::default(),
        no_env,
    )
    .unwrap();
    assert_eq!(defaults.router, agora_router::Policy::default());
    assert_eq!(defaults.router.privacy, Privacy::Open);
    let file = layer(
        "[router]\nprivacy = \"anonymous\"\nmax_price_per_token = \"0.00002 dUSD\"\nmin_reputation = 50.0\n\
         trusted_raters = [\"0x70997970C51812dc3A010C7d01b50e0d17dc79C8\"]\nrecheck_percent = 5\n",
    );
    let env =
        ConfigLayer::from_env(|name| (name == "AGORA_ROUTER_PRIVACY").then(|| "local-only".into())).unwrap();
    let cfg = NodeConfig::resolve(None, file, env, ConfigLayer::default(), no_env).unwrap();
    assert_eq!(cfg.router.privacy, Privacy::LocalOnly, "env beats file");
    assert_eq!(cfg.router.max_price_per_token, Some(20), "dUSD amounts are read in atomic units");
    assert_eq!(cfg.router.min_reputation, Some(50.0));
    assert_eq!(cfg.router.recheck_percent, 5);
    assert_eq!(cfg.router.trusted_raters.len(), 1);
    let printed: ConfigLayer = toml::from_str(&cfg.to_redacted_toml()).unwrap();
    let reprinted =
        NodeConfig::resolve(None, printed, ConfigLayer::default(), ConfigLayer::default(), no_env).unwrap();
    assert_eq!(reprinted.router, cfg.router, "agora config prints a valid file");
    for (bad, named) in [
        ("[router]\nprivacy = \"secret\"\n", "router.privacy"),
        ("[router]\nrecheck_percent = 101\n", "router.recheck_percent"),
        ("[router]\ntimeout_secs = 0\n", "router.timeout_secs"),
        ("[router]\ntrusted_raters = [\"bob\"]\n", "router.trusted_raters"),
    ] {
        let err =
            NodeConfig::resolve(None, layer(bad), ConfigLayer::default(), ConfigLayer::default(), no_env)
                .unwrap_err();
        assert!(err.to_string().contains(named), "{bad}: {err}");
    }
    assert!(toml::from_str::<ConfigLayer>("[router]\nprivcy = \"open\"\n").is_err(), "unknown keys refused");
}
