"""Road networks and their demand as datasets: the "sumo" import format and the scenarios it holds.

A traffic dataset (modality `traffic`) is what a signal controller is trained on and tested on, so a
learned controller's lineage names data versions like any other model's, and a filing can test it.
Its records are files: each SUMO `.net.xml` is a record with role `network`, each `.rou.xml` one
with role `routes`. A *scenario* is one routes file on its network: the routes files of a folder
run on that folder's network (one network per folder), and a scenario is named after its routes
file. Every network must have a signalised junction (there is nothing to control otherwise) and
every routes file must schedule vehicles; an upload that breaks either is refused, naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pyarrow as pa
from sqlalchemy.orm import Session

from aicommons import data
from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.core.permissions import Actor
from aicommons.data.formats import rel, visible_files
from aicommons.data.imports import ImportOptions, Progress, format_detectors, readers
from aicommons.data.manifest import ManifestCache, Record
from aicommons.scenarios.citybrain.network import read_network

FORMAT = "sumo"
NETWORK_SUFFIX, ROUTES_SUFFIX = ".net.xml", ".rou.xml"
DEMAND_TAGS = ("vehicle", "trip", "flow", "person")


@dataclass(frozen=True)
class TrafficScenario:
    name: str  # the routes file's path in the upload, without .rou.xml
    net_sha256: str
    routes_sha256: str


def _has_suffix(path: Path, suffix: str) -> bool:
    return path.name.lower().endswith(suffix)


@format_detectors.register(FORMAT)
def looks_like_sumo(root: Path, files: list[Path]) -> bool:
    """A folder with SUMO networks and route files."""
    return any(_has_suffix(p, NETWORK_SUFFIX) for p in files) and any(_has_suffix(p, ROUTES_SUFFIX) for p in files)


@readers.register(FORMAT)
def read_sumo(root: Path, options: ImportOptions, blobs: BlobStore, progress: Progress) -> list[Record]:
    if root.is_file():
        raise Invalid("A SUMO import needs a folder (or an archive) holding .net.xml networks and .rou.xml route files.")
    files = visible_files(root)
    networks = [p for p in files if _has_suffix(p, NETWORK_SUFFIX)]
    routes = [p for p in files if _has_suffix(p, ROUTES_SUFFIX)]
    if not networks or not routes:
        raise Invalid(f"A SUMO import needs at least one .net.xml network and one .rou.xml route file; found {len(networks)} and {len(routes)}.")
    network_by_folder: dict[Path, Path] = {}
    for network in networks:
        if network.parent in network_by_folder:
            raise Invalid(f"The folder {rel(network.parent, root) or '.'!r} holds two networks ({network_by_folder[network.parent].name} and "
                          f"{network.name}); put each network in its own folder with its route files.")
        network_by_folder[network.parent] = network
    records = []
    for index, network in enumerate(sorted(networks)):
        progress(index / (len(networks) + len(routes)), f"reading {network.name}")
        records.append(_network_record(network, root, blobs))
    for index, route_file in enumerate(sorted(routes)):
        progress((len(networks) + index) / (len(networks) + len(routes)), f"reading {route_file.name}")
        network = network_by_folder.get(route_file.parent)
        if network is None:
            raise Invalid(f"{rel(route_file, root)} has no network beside it; put a .net.xml in the same folder.")
        records.append(_routes_record(route_file, network, root, blobs))
    return records


def _network_record(path: Path, root: Path, blobs: BlobStore) -> Record:
    where = rel(path, root)
    try:
        intersections = read_network(path)
    except Exception as error:  # sumolib raises plain exceptions for malformed XML
        raise Invalid(f"{where} is not a readable SUMO network: {error}") from None
    if not intersections:
        raise Invalid(f"{where} has no signalised junction; there is nothing for a signal controller to control.")
    ref = blobs.put_file(path)
    fields = {"role": "network", "scenario": None, "network": where, "intersections": len(intersections), "vehicles": None}
    return Record(fields=fields, file_sha256=ref.sha256, file_name=where)


def _routes_record(path: Path, network: Path, root: Path, blobs: BlobStore) -> Record:
    where = rel(path, root)
    try:
        demand = sum(1 for _, element in ElementTree.iterparse(path) if element.tag in DEMAND_TAGS)
    except ElementTree.ParseError as error:
        raise Invalid(f"{where} is not readable XML: {error}") from None
    if demand == 0:
        raise Invalid(f"{where} schedules no vehicle, trip or flow.")
    ref = blobs.put_file(path)
    fields = {"role": "routes", "scenario": where[: -len(ROUTES_SUFFIX)], "network": rel(network, root), "intersections": None, "vehicles": demand}
    return Record(fields=fields, file_sha256=ref.sha256, file_name=where)


def traffic_scenarios(table: pa.Table) -> list[TrafficScenario]:
    """The scenarios of a traffic dataset version's records, by name; Invalid if it holds none."""
    if "role" not in table.column_names:
        raise Invalid("The dataset version holds no road networks; signal controllers are tested on a traffic dataset (format 'sumo').")
    rows: list[dict[str, Any]] = table.select(["role", "scenario", "network", "file_sha256"]).to_pylist()
    networks = {row["network"]: row["file_sha256"] for row in rows if row["role"] == "network"}
    scenarios = [
        TrafficScenario(row["scenario"], networks[row["network"]], row["file_sha256"])
        for row in rows
        if row["role"] == "routes" and row["network"] in networks
    ]
    if not scenarios:
        raise Invalid("The dataset version holds no routes file with its network; it has no scenario to test on.")
    return sorted(scenarios, key=lambda s: s.name)


def dataset_scenario(session: Session, cache: ManifestCache, actor: Actor, dataset_version_id: str, scenario: str | None = None) -> TrafficScenario:
    """A scenario of a traffic dataset version the actor may read: the one named, or its first."""
    scenarios = traffic_scenarios(data.read_version_table(session, cache, actor, dataset_version_id))
    if scenario is None:
        return scenarios[0]
    found = next((s for s in scenarios if s.name == scenario), None)
    if found is None:
        raise Invalid(f"Dataset version {dataset_version_id!r} has no scenario {scenario!r}; it has {', '.join(s.name for s in scenarios)}.")
    return found
