//! The raw cost of the crypto each scenario needs, measured by the harness in the same
//! run, on its own core, with the crates and parameters the server uses (ring ES256;
//! argon2 with the configured cost and the pepper).

use std::time::{Duration, Instant};

use anyhow::anyhow;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    UnparsedPublicKey,
};
use serde_json::{Value, json};

use super::scenarios::Scenario;
use crate::config::{Settings, decode_secret};
use crate::devices::{SecretCode, SecretCodeHasher, SecretCodeParams};

/// Seconds per operation of each primitive on one core.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub es256_sign: f64,
    pub es256_verify: f64,
    pub argon2_verify: f64,
    pub argon2_params: SecretCodeParams,
}

/// A scenario's crypto ceiling: operations per core-second if the crypto were all.
#[derive(Debug, Clone)]
pub struct Ceiling {
    pub ops_per_core_second: f64,
    pub formula: String,
}

fn time_per_op(min: Duration, min_iters: u32, mut f: impl FnMut()) -> f64 {
    // One untimed call warms caches and lazy initialisation.
    f();
    let start = Instant::now();
    let mut n = 0u32;
    while n < min_iters || start.elapsed() < min {
        f();
        n += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(n)
}

/// Measures the primitives (about 3 s, or well under a second with `quick`).
pub fn measure(settings: &Settings, quick: bool) -> anyhow::Result<Baseline> {
    let min = if quick {
        Duration::from_millis(150)
    } else {
        Duration::from_millis(800)
    };
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| anyhow!("key generation failed"))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| anyhow!("key loading failed"))?;
    // A realistic signing input: an access token's header and claims.
    let message = b"eyJhbGciOiJFUzI1NiIsImtpZCI6IjBmM2E5YjJjIiwidHlwIjoiYXQrand0In0.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjgwODAiLCJzdWIiOiJhY2MtMTIzNDU2Nzg5MCIsImF1ZCI6ImRldmljZWxpbmsiLCJleHAiOjE3MDAwMDAzMDAsImlhdCI6MTcwMDAwMDAwMCwianRpIjoiYWJjZGVmIiwiY25mIjp7ImprdCI6IjB6WkhYSllJUzBiaE9FX0NhV2J3In19";
    let es256_sign = time_per_op(min, 20, || {
        let _ = pair.sign(&rng, message);
    });
    let signature = pair
        .sign(&rng, message)
        .map_err(|_| anyhow!("signing failed"))?;
    let public = UnparsedPublicKey::new(
        &ECDSA_P256_SHA256_FIXED,
        pair.public_key().as_ref().to_vec(),
    );
    let es256_verify = time_per_op(min, 20, || {
        let _ = public.verify(message, signature.as_ref());
    });

    let d = &settings.devices;
    let params = SecretCodeParams {
        m_cost_kib: d.argon2_memory_kib,
        t_cost: d.argon2_iterations,
        p_cost: d.argon2_parallelism,
    };
    let hasher = SecretCodeHasher::new(
        &decode_secret(
            "secrets.secret_code_pepper",
            &settings.secrets.secret_code_pepper,
        )?,
        params,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let code = SecretCode::try_from(super::provision::SECRET_CODE).map_err(|e| anyhow!("{e:?}"))?;
    let verifier = hasher.hash(&code).map_err(|e| anyhow!("{e}"))?;
    let argon2_verify = time_per_op(min, if quick { 3 } else { 10 }, || {
        let _ = hasher.verify(&code, &verifier);
    });
    Ok(Baseline {
        es256_sign,
        es256_verify,
        argon2_verify,
        argon2_params: params,
    })
}

impl Baseline {
    /// The crypto of one operation: (ES256 verifies, ES256 signs, Argon2 checks).
    fn work(scenario: Scenario) -> Option<(f64, f64, f64)> {
        match scenario {
            // DPoP proof + ES256 access token signature.
            Scenario::S2 => Some((1.0, 1.0, 0.0)),
            // S3: DPoP proof + access token; S4: two DPoP proofs (start, redeem).
            Scenario::S3 | Scenario::S4 => Some((2.0, 0.0, 0.0)),
            // Two DPoP proofs (options, unlock), the WebAuthn assertion, the access token.
            Scenario::S5 => Some((3.0, 1.0, 0.0)),
            // DPoP proof, Argon2, the access token.
            Scenario::S6 => Some((1.0, 1.0, 1.0)),
            // The ID token and the portal's access token (both ES256 JWTs).
            Scenario::S7 => Some((0.0, 2.0, 0.0)),
            _ => None,
        }
    }

    fn seconds(&self, (v, s, a): (f64, f64, f64)) -> f64 {
        v * self.es256_verify + s * self.es256_sign + a * self.argon2_verify
    }

    /// The crypto ceiling of `scenario` (for S8, of the mix actually run).
    pub fn ceiling(&self, scenario: Scenario, mix: Vec<(Scenario, f64)>) -> Option<Ceiling> {
        if scenario == Scenario::S8 {
            let mut secs = 0.0;
            for (s, pct) in &mix {
                secs += pct / 100.0 * self.seconds(Self::work(*s)?);
            }
            return (secs > 0.0).then(|| Ceiling {
                ops_per_core_second: 1.0 / secs,
                formula: "the mix's weighted crypto".into(),
            });
        }
        let work = Self::work(scenario)?;
        let (v, s, a) = work;
        Some(Ceiling {
            ops_per_core_second: 1.0 / self.seconds(work),
            formula: format!("{v} ES256 verify + {s} ES256 sign + {a} Argon2"),
        })
    }

    /// The raw Argon2 rate on one core (S6's target is 90% of it).
    pub fn argon2_per_second(&self) -> f64 {
        1.0 / self.argon2_verify
    }

    pub fn to_json(&self) -> Value {
        json!({
            "crate": "ring 0.17 (ES256, as the server), argon2 0.5 (as the server)",
            "es256_sign_per_core_second": 1.0 / self.es256_sign,
            "es256_verify_per_core_second": 1.0 / self.es256_verify,
            "argon2_verify_per_core_second": 1.0 / self.argon2_verify,
            "argon2_params": {
                "m_cost_kib": self.argon2_params.m_cost_kib,
                "t_cost": self.argon2_params.t_cost,
                "p_cost": self.argon2_params.p_cost,
            },
        })
    }
}
