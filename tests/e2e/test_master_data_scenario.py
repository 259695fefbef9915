"""A customer's first day, as the bank's systems live it: registered at the counter, a phone
added from the mobile app, an account opened by core banking under its own key, and the call
center seeing all of it in one profile with the change history."""

from __future__ import annotations

from datetime import date

import httpx

from api.ops.seed import resident_id
from domain.access.principal import Role
from domain.ids import decode_typed_id
from tests.conftest import Minter
from tests.graphql import gql_data

REGISTER = """mutation ($input: RegisterCustomerInput!) { registerCustomer(input: $input) {
  __typename ... on RegisterCustomerPayload { customerId } ... on Error { code message } } }"""
ADD_PHONE = """mutation ($input: AddContactPointInput!) { addContactPoint(input: $input) {
  __typename ... on Customer { contactPoints { kind value verified } } ... on Error { code } } }"""
LINK = """mutation ($input: LinkCustomerSourceKeyInput!) { linkCustomerSourceKey(input: $input) {
  __typename ... on Error { code } } }"""
OPEN_ACCOUNT = """mutation ($input: UpsertHoldingInput!) { upsertHolding(input: $input) {
  __typename ... on UpsertHoldingPayload { change } ... on Error { code } } }"""
CALL_CENTER = """query ($id: ID!) { customer(id: $id) { __typename ... on Customer {
  displayName lifecycleStatus version
  documents { type number }
  contactPoints { kind value verified }
  holdings { items { product { code } accountNumber balance status } }
  changeHistory(first: 10) { edges { node { field oldValue newValue changedBy } } } } } }"""


async def test_counter_app_core_banking_and_call_center_share_one_customer(
    anonymous: httpx.AsyncClient, mint: Minter
) -> None:
    number = resident_id("330106", date(1991, 4, 18), 731)
    # 1. The counter registers the customer (a teller, from the document in hand).
    teller = mint(Role.TELLER, "scenario-teller")
    registered = await gql_data(
        anonymous,
        REGISTER,
        {
            "input": {
                "kind": "PERSONAL",
                "displayName": "周晓岚",
                "documents": [{"type": "RESIDENT_ID", "number": number}],
                "contactPoints": [{"kind": "ADDRESS", "value": "浙江省杭州市西湖区文三路90号"}],
                "personal": {"gender": "FEMALE", "occupation": "设计师"},
                "preferredChannel": "MOBILE_APP",
            }
        },
        token=teller,
    )
    gid = registered["registerCustomer"]["customerId"]
    pk = decode_typed_id(gid, "Customer")
    # 2. The customer adds a phone from the mobile app (unverified until the bank checks it).
    app = mint(Role.CUSTOMER, "scenario-app-user", cid=pk)
    phone = await gql_data(
        anonymous, ADD_PHONE, {"input": {"kind": "PHONE", "value": "13811112222"}}, token=app
    )
    assert {"kind": "PHONE", "value": "+8613811112222", "verified": False} in phone[
        "addContactPoint"
    ]["contactPoints"]
    # 3. Core banking opens an account: it records its customer number, then writes by it.
    core = mint(Role.INTEGRATION, "scenario-core", client_id="core_banking")
    key = {"system": "core_banking", "key": f"CB-SCN-{pk}"}
    linked = await gql_data(
        anonymous, LINK, {"input": {"customerId": gid, "sourceKey": key}}, token=core
    )
    assert linked["linkCustomerSourceKey"]["__typename"] == "LinkCustomerSourceKeyPayload"
    account = f"6222{pk:012d}"
    opened = await gql_data(
        anonymous,
        OPEN_ACCOUNT,
        {
            "input": {
                "sourceRef": f"CORE-SCN-{pk}",
                "customerSourceKey": key,
                "productCode": "DEP-CUR",
                "accountNumber": account,
                "currency": "CNY",
                "balance": "2000.00",
                "status": "ACTIVE",
                "openedOn": date.today().isoformat(),
            }
        },
        token=core,
    )
    assert opened["upsertHolding"] == {"__typename": "UpsertHoldingPayload", "change": "opened"}
    # 4. The call center sees it all in one profile — masked as the call center sees data.
    agent = mint(Role.AGENT, "scenario-agent")
    profile = (await gql_data(anonymous, CALL_CENTER, {"id": gid}, token=agent))["customer"]
    assert profile["displayName"] == "周晓岚"
    assert profile["lifecycleStatus"] == "ACTIVE"
    assert profile["documents"] == [
        {"type": "RESIDENT_ID", "number": f"{number[:3]}{'*' * 11}{number[-4:]}"}
    ]
    phones = [p for p in profile["contactPoints"] if p["kind"] == "PHONE"]
    assert phones == [{"kind": "PHONE", "value": "138****2222", "verified": False}]
    (holding,) = profile["holdings"]["items"]
    assert holding["product"]["code"] == "DEP-CUR"
    assert holding["accountNumber"] == f"****{account[-4:]}"
    assert holding["balance"] == "2000.00"
    history = [e["node"] for e in profile["changeHistory"]["edges"]]
    assert [(h["field"], h["changedBy"]) for h in history] == [
        ("contactPoints.value", "scenario-app-user"),
        ("lifecycleStatus", "scenario-teller"),
    ]
    assert history[0]["newValue"] == "138****2222"  # masked as the field is for the agent
    assert history[1]["newValue"] == "active"
