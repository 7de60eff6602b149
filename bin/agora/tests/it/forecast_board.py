"""Reads agora's ForecastBoard with web3.py, as any client of the chain would: who forecast a
market, and each forecast. Prints them as JSON.

usage: forecast_board.py RPC_URL DEPLOYMENTS_JSON ABI_JSON MARKET_ID
"""

import json
import sys

from web3 import Web3


def main() -> None:
    rpc, deployments, abi_path, market = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    w3 = Web3(Web3.HTTPProvider(rpc))
    with open(deployments) as f:
        chain = json.load(f)["chains"][str(w3.eth.chain_id)]
    with open(abi_path) as f:
        abi = json.load(f)["abi"]
    address = Web3.to_checksum_address(chain["contracts"]["ForecastBoard"]["address"])
    board = w3.eth.contract(address=address, abi=abi)
    forecasts = []
    for agent in board.functions.forecastersOf(market).call():
        forecast = board.functions.forecastOf(market, agent).call()
        forecasts.append(
            {
                "agent_id": str(agent),
                "probability_ppm": forecast[0],
                "block": forecast[1],
                "forecaster": forecast[3],
                "reasoning": "0x" + forecast[4].hex(),
            }
        )
    print(json.dumps(forecasts))


if __name__ == "__main__":
    main()
