"""The Crosmos usage contract: the OpenAPI document, its loader, and the rules of its meaning."""

from crosmos_contract.loader import ContractError, LoadedContract, default_contract_path, load_contract

__all__ = ["ContractError", "LoadedContract", "default_contract_path", "load_contract"]
