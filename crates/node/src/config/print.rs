//! `agora config`: the effective configuration as a TOML file, secrets redacted.

use super::{ChainTarget, NodeConfig, quote_path};
use agora_chain::{KEYSTORE_PASSWORD_ENV, SignerSource};

impl NodeConfig {
    /// The effective configuration as TOML, secrets redacted, for `agora config`.
    pub fn to_redacted_toml(&self) -> String {
        let mut out =
            String::from("# effective configuration: defaults < agora.toml < AGORA_* environment < flags\n");
        match &self.config_file {
            Some(path) => out.push_str(&format!("# config file: {}\n", path.display())),
            None => out.push_str("# config file: none\n"),
        }
        out.push_str(&format!(
            "data_dir = {}\n\n[api]\nlisten = \"{}\"\n",
            quote_path(&self.data_dir),
            self.api_listen
        ));
        match &self.api.token {
            Some(_) => out.push_str("# token: set (redacted); requests need Authorization: Bearer <token>\n"),
            None => out.push_str("# token unset: loopback only, no authentication\n"),
        }
        let origins: Vec<toml::Value> =
            self.api.allowed_origins.iter().map(|o| toml::Value::String(o.clone())).collect();
        out.push_str(&format!("allowed_origins = {}\n\n[chain]\n", toml::Value::Array(origins)));
        match &self.chain {
            ChainTarget::Rpc { url } => {
                out.push_str(&format!("rpc_url = \"{}\"\n", agora_chain::redact_url(url)));
            }
            ChainTarget::Devnet(_) => out.push_str("# rpc_url unset: the node runs the local devnet below\n"),
        }
        match &self.signer {
            Some(SignerSource::Keystore { path, password }) => {
                out.push_str(&format!("keystore = {}\n", quote_path(path)));
                let state = if password.is_some() { "set (redacted)" } else { "not set" };
                out.push_str(&format!("# {KEYSTORE_PASSWORD_ENV}: {state}\n"));
            }
            Some(source) => out.push_str(&format!("# signer: {} (redacted)\n", source.describe())),
            None if matches!(self.chain, ChainTarget::Devnet(_)) => {
                out.push_str("# signer: anvil dev account 0 (devnet default)\n");
            }
            None => out
                .push_str("# signer: none (read-only; set AGORA_PRIVATE_KEY or chain.keystore to deploy)\n"),
        }
        if let ChainTarget::Devnet(devnet) = &self.chain {
            out.push_str(&format!(
                "\n[devnet]\nport = {}\nchain_id = {}\nanvil = {}\n",
                devnet.port,
                devnet.chain_id,
                quote_path(&devnet.anvil)
            ));
            match devnet.block_time {
                Some(secs) => out.push_str(&format!("block_time = {secs}\n")),
                None => out.push_str("# block_time unset: one block per transaction\n"),
            }
        }
        let inf = &self.inference;
        out.push_str("\n[inference]\n");
        match &inf.model {
            Some(path) => out.push_str(&format!("model = {}\n", quote_path(path))),
            None => out.push_str("# model: none found (run `agora setup`, or set inference.model)\n"),
        }
        out.push_str(&format!(
            "threads = {}  # 0: every core\nqueue = {}\nbatch = {}\n",
            inf.threads, inf.queue, inf.batch
        ));
        let models: Vec<String> = inf.models.iter().map(|p| quote_path(p)).collect();
        out.push_str(&format!(
            "models = [{}]  # loaded on first use; with `agora models add`\nmemory_budget_mib = {}\n",
            models.join(", "),
            inf.memory_budget >> 20
        ));
        if let Some(ctx) = inf.max_context {
            out.push_str(&format!("max_context = {ctx}\n"));
        }
        out.push_str(&format!("log_prompts = {}\n", inf.log_prompts));
        let agent = &self.agent;
        out.push_str(&format!(
            "\n[agent]\nregister = {}\nname = {}\ndescription = {}\n",
            agent.register,
            toml::Value::String(agent.name.clone()),
            toml::Value::String(agent.description.clone())
        ));
        match &agent.public_url {
            Some(url) => out.push_str(&format!("public_url = {}\n", toml::Value::String(url.clone()))),
            None => out.push_str("# public_url unset: the registration goes on chain as a data: URI\n"),
        }
        let p = &self.payments;
        out.push_str(&format!(
            "\n[payments]\nenabled = {}\nlisten = \"{}\"\nprice_per_token = {}  # per token, prompt and completion\n\
             max_per_request = {}\nmin_withdraw_delay = {}\nclaim_threshold = {}\nsettle_interval = {}\n\
             credit_calls = {}  # calls per anonymous credit deposit (zk-credits); 0 sells none\n\
             credit_unit_tokens = {}\ncredit_stake = {}\ncredit_exit_delay = {}\n",
            p.enabled,
            p.listen,
            super::amount::toml(p.price_per_token),
            super::amount::toml(p.max_per_request),
            p.min_withdraw_delay,
            super::amount::toml(p.claim_threshold),
            p.settle_interval,
            p.credit_calls,
            p.credit_unit_tokens,
            super::amount::toml(p.credit_stake),
            p.credit_exit_delay
        ));
        out.push_str(&super::guard::to_toml(&self.guard));
        out.push_str(&super::jobs::to_toml(&self.jobs));
        out.push_str(&super::markets::to_toml(&self.markets));
        out.push_str(&super::router::to_toml(&self.router));
        out
    }
}
