//! Deploying the agora contract suite once per chain, recorded in a deployments file.
//!
//! The file maps chain ids to the address of each suite contract on that chain, together with
//! the chain's genesis hash (so a different chain that reuses the id is noticed). Deploying again
//! reuses what is recorded after checking that the code at each address is the expected code;
//! it never overwrites a record it cannot verify.

use crate::{
    ChainClient, ChainError, Result,
    error::{BoxError, context},
};
use agora_contracts::{SUITE, SuiteContract};
use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::Path};

/// File name of the deployments file inside a data directory.
pub const DEPLOYMENTS_FILE: &str = "deployments.json";

/// Format version of the deployments file.
const FORMAT_VERSION: u32 = 1;

/// Every chain's deployments, as stored in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentsFile {
    /// Format version.
    pub version: u32,
    /// Deployments by chain id (a decimal string, as JSON keys must be strings).
    pub chains: BTreeMap<String, ChainDeployment>,
}

/// The suite on one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChainDeployment {
    /// Chain id, repeated from the key.
    pub chain_id: u64,
    /// Hash of the chain's block 0.
    pub genesis_hash: B256,
    /// Each contract by name.
    pub contracts: BTreeMap<String, ContractDeployment>,
}

/// Where one contract lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContractDeployment {
    /// Contract address.
    pub address: Address,
    /// The deployment transaction.
    pub tx_hash: B256,
    /// Block it was mined in.
    pub block_number: u64,
    /// Who deployed it.
    pub deployer: Address,
}

impl ChainDeployment {
    /// Address of a suite contract.
    pub fn address_of(&self, contract: SuiteContract) -> Option<Address> {
        self.contracts.get(contract.name()).map(|c| c.address)
    }
}

impl DeploymentsFile {
    /// Reads the file; a missing file is an empty set of deployments.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self { version: FORMAT_VERSION, chains: BTreeMap::new() });
            }
            Err(e) => return Err(file_error(path, context("cannot read", e))),
        };
        let file: Self = serde_json::from_slice(&bytes)
            .map_err(|source| ChainError::DeploymentsMalformed { path: path.to_path_buf(), source })?;
        if file.version != FORMAT_VERSION {
            return Err(file_error(
                path,
                format!("format version {} is not supported (expected {FORMAT_VERSION})", file.version)
                    .into(),
            ));
        }
        for (key, chain) in &file.chains {
            if key.parse::<u64>().ok() != Some(chain.chain_id) {
                return Err(file_error(
                    path,
                    format!("entry {key:?} holds chain id {}; keys must equal their chainId", chain.chain_id)
                        .into(),
                ));
            }
        }
        Ok(file)
    }

    /// Writes the file atomically: a crash leaves either the old or the new file, never half.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| file_error(path, e.into()))?;
        json.push(b'\n');
        agora_store::write_atomically(path, &json).map_err(|e| file_error(path, context("cannot write", e)))
    }

    /// The deployment on `chain_id`, if any.
    pub fn chain(&self, chain_id: u64) -> Option<&ChainDeployment> {
        self.chains.get(&chain_id.to_string())
    }
}

/// What [`ensure_deployed`] did for each contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployAction {
    /// The recorded contract was found with the expected code.
    Reused,
    /// The contract was deployed now.
    Deployed,
}

/// Makes sure every suite contract is deployed on the client's chain, deploying what is missing
/// and recording it in the file at `path`. `on_progress` hears about each contract.
pub async fn ensure_deployed(
    client: &ChainClient,
    path: &Path,
    mut on_progress: impl FnMut(SuiteContract, DeployAction, Address),
) -> Result<ChainDeployment> {
    let mut file = DeploymentsFile::load(path)?;
    let chain_id = client.chain_id();
    let key = chain_id.to_string();
    let mut deployment = match file.chains.get(&key) {
        Some(recorded) if recorded.genesis_hash != client.genesis_hash() => {
            return Err(ChainError::OtherChain {
                path: path.to_path_buf(),
                chain_id,
                recorded: recorded.genesis_hash,
                actual: client.genesis_hash(),
            });
        }
        Some(recorded) => recorded.clone(),
        None => ChainDeployment { chain_id, genesis_hash: client.genesis_hash(), contracts: BTreeMap::new() },
    };

    // Check every recorded contract before deploying anything, so a bad record stops us early.
    for contract in SUITE {
        if let Some(recorded) = deployment.contracts.get(contract.name()) {
            verify_code(client, *contract, recorded.address).await?;
        }
    }
    for contract in SUITE {
        if let Some(recorded) = deployment.contracts.get(contract.name()) {
            on_progress(*contract, DeployAction::Reused, recorded.address);
            continue;
        }
        let dependencies: Vec<Address> = contract
            .constructor_dependencies()
            .iter()
            .map(|dep| {
                deployment.address_of(*dep).ok_or_else(|| ChainError::Deploy {
                    contract: contract.name().to_owned(),
                    chain_id,
                    source: format!("{dep} must be deployed first").into(),
                })
            })
            .collect::<Result<_>>()?;
        let record = deploy(client, *contract, &dependencies).await?;
        let address = record.address;
        deployment.contracts.insert(contract.name().to_owned(), record);
        // Record each contract as soon as it exists, so a crash mid-suite loses nothing.
        file.chains.insert(key.clone(), deployment.clone());
        file.save(path)?;
        on_progress(*contract, DeployAction::Deployed, address);
    }
    Ok(deployment)
}

/// Removes the record for `chain_id` from the file (the contracts stay on chain); returns
/// whether there was one.
pub fn forget_chain(path: &Path, chain_id: u64) -> Result<bool> {
    let mut file = DeploymentsFile::load(path)?;
    let removed = file.chains.remove(&chain_id.to_string()).is_some();
    if removed {
        file.save(path)?;
    }
    Ok(removed)
}

/// Checks that the code at `address` is `contract`'s.
pub async fn verify_code(client: &ChainClient, contract: SuiteContract, address: Address) -> Result<()> {
    let code = client.provider().get_code_at(address).await.map_err(|e| ChainError::Rpc {
        call: "eth_getCode",
        url: client.url().to_owned(),
        source: e.into(),
    })?;
    let chain_id = client.chain_id();
    if code.is_empty() {
        return Err(ChainError::MissingCode { contract: contract.name().to_owned(), address, chain_id });
    }
    if !contract.artifact().matches_runtime_code(&code) {
        return Err(ChainError::UnexpectedCode { contract: contract.name().to_owned(), address, chain_id });
    }
    Ok(())
}

async fn deploy(
    client: &ChainClient,
    contract: SuiteContract,
    dependencies: &[Address],
) -> Result<ContractDeployment> {
    let chain_id = client.chain_id();
    let fail =
        |source: BoxError| ChainError::Deploy { contract: contract.name().to_owned(), chain_id, source };
    let deployer = client.signer_address().ok_or(ChainError::NoSigner { chain_id })?;
    let tx = TransactionRequest::default()
        .with_from(deployer)
        .with_deploy_code(contract.deploy_code(dependencies));
    let receipt = client
        .provider()
        .send_transaction(tx)
        .await
        .map_err(|e| fail(e.into()))?
        .get_receipt()
        .await
        .map_err(|e| fail(e.into()))?;
    if !receipt.status() {
        return Err(fail(format!("transaction {} reverted", receipt.transaction_hash).into()));
    }
    let address = receipt.contract_address.ok_or_else(|| fail("receipt has no contract address".into()))?;
    verify_code(client, contract, address).await?;
    tracing::debug!(target: "agora::deploy", contract = contract.name(), %address, chain_id, "deployed");
    Ok(ContractDeployment {
        address,
        tx_hash: receipt.transaction_hash,
        block_number: receipt.block_number.unwrap_or_default(),
        deployer,
    })
}

fn file_error(path: &Path, source: BoxError) -> ChainError {
    ChainError::DeploymentsFile { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEPLOYMENTS_FILE);
        let mut file = DeploymentsFile::load(&path).unwrap();
        assert!(file.chains.is_empty());
        file.chains.insert(
            "31337".into(),
            ChainDeployment {
                chain_id: 31337,
                genesis_hash: B256::repeat_byte(1),
                contracts: BTreeMap::new(),
            },
        );
        file.save(&path).unwrap();
        assert_eq!(DeploymentsFile::load(&path).unwrap(), file);
        assert!(forget_chain(&path, 31337).unwrap());
        assert!(!forget_chain(&path, 31337).unwrap());
    }

    #[test]
    fn malformed_file_is_an_error_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEPLOYMENTS_FILE);
        std::fs::write(&path, b"{ not json").unwrap();
        let err = DeploymentsFile::load(&path).unwrap_err();
        assert!(err.to_string().contains("malformed"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"{ not json");
    }

    #[test]
    fn key_and_chain_id_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEPLOYMENTS_FILE);
        std::fs::write(
            &path,
            format!(
                r#"{{"version":1,"chains":{{"1":{{"chainId":31337,"genesisHash":"{}","contracts":{{}}}}}}}}"#,
                B256::ZERO
            ),
        )
        .unwrap();
        let err = DeploymentsFile::load(&path).unwrap_err();
        assert!(err.to_string().contains("keys must equal their chainId"), "{err}");
    }

    #[test]
    fn file_errors_keep_their_source() {
        use std::error::Error as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEPLOYMENTS_FILE);
        std::fs::write(&path, b"{ not json").unwrap();
        let err = DeploymentsFile::load(&path).unwrap_err();
        let source = err.source().expect("the parse error is kept");
        assert!(source.downcast_ref::<serde_json::Error>().is_some(), "{source:?}");

        // A directory where the file should be: reading fails with an I/O error, kept.
        let err = DeploymentsFile::load(dir.path()).unwrap_err();
        let io = err.source().and_then(|e| e.source()).expect("the I/O error is kept");
        assert!(io.downcast_ref::<std::io::Error>().is_some(), "{io:?}");
        assert!(err.to_string().contains("cannot read"), "{err}");
    }
}
