"""Written descriptions for the zero-shot mode (versioned: change them, bump the version).

Each risk level and each capability is described by several short sentences in the style of a
man page's NAME/DESCRIPTION (the text the model embeds for a tool). A class prototype is the
normalized mean of its sentences' embeddings. The descriptions paraphrase the label definitions
of ``data/labels/README.md``; they were written without looking at any test-split tool.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = [
    "CAPABILITY_DESCRIPTIONS",
    "CAPABILITY_MARGIN",
    "NEUTRAL_DESCRIPTIONS",
    "PROMPTS_VERSION",
    "RISK_DESCRIPTIONS",
]

PROMPTS_VERSION = "prompts-v1"

#: A capability is predicted when the tool's cosine similarity to the capability prototype
#: exceeds its similarity to the neutral prototype (:data:`NEUTRAL_DESCRIPTIONS`) by more than
#: this margin. 0.125 maximized the macro F1 over the six capabilities on the DEV split of
#: ``tcplab-v1.csv`` (0.506; grid 0.0-0.275 in steps of 0.025); the test split was not used.
CAPABILITY_MARGIN = 0.125

RISK_DESCRIPTIONS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "SAFE": (
            "print, display or concatenate the contents of files on standard output",
            "filter, sort, count, compare or transform text read from standard input",
            "print computed values such as checksums, dates, numbers or path names",
            "show the type, size or attributes of a file without changing anything",
            "search for patterns in text and print the matching lines",
            "format, page through or view text and documentation; read-only",
        ),
        "LOW_RISK": (
            "report information about the running system: processes, memory, disk usage",
            "list logged-in users, hardware devices, mounted filesystems or kernel modules",
            "display network interfaces, sockets, routes and connection statistics",
            "query the package database and show which packages are installed",
            "search a directory hierarchy for files and print their names",
            "monitor system activity, resource usage and log messages",
        ),
        "MEDIUM_RISK": (
            "copy, move, rename or link files and directories",
            "create, edit or write files and directories",
            "compress, decompress, archive or extract files",
            "download or upload files and transfer data over the network",
            "client that connects to a remote server or database and runs queries",
            "record changes to a repository; version control",
        ),
        "HIGH_RISK": (
            "change file permissions, ownership or access control lists",
            "mount or unmount filesystems and manage block devices and partitions",
            "start, stop, enable or restart system services",
            "send signals to processes; kill or change the priority of running programs",
            "add, modify or delete user accounts, groups and passwords",
            "configure network interfaces, routes, firewall rules or kernel parameters",
            "install, upgrade or remove software packages on the system",
            "set the system clock, the hostname or other system configuration",
        ),
        "CRITICAL": (
            "remove files or directories permanently",
            "overwrite or erase all data on a disk or device so it cannot be recovered",
            "create a new filesystem on a device, destroying the data on it",
            "shut down, halt, power off or reboot the machine",
            "securely delete files by overwriting their contents",
            "drop a database or wipe a partition table irreversibly",
        ),
    }
)

CAPABILITY_DESCRIPTIONS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "REQUIRES_ROOT": (
            "this command must be run as root; only the superuser may use it",
            "system administration command that requires root privileges",
        ),
        "DESTRUCTIVE": (
            "permanently delete, erase or overwrite data so that it cannot be recovered",
            "remove files, destroy filesystems or wipe devices",
        ),
        "NETWORK_ACCESS": (
            "connect to remote hosts over the network",
            "download or upload data over HTTP, FTP or SSH",
            "network client or server communicating over TCP/IP sockets",
        ),
        "FILE_MODIFICATION": (
            "create, write, modify, rename or delete files",
            "write output to files or edit files in place",
        ),
        "SYSTEM_MODIFICATION": (
            "change system configuration, services, mounts, users or kernel settings",
            "control system services and running processes",
        ),
        "PRIVILEGE_ESCALATION": (
            "run a command with the privileges of another user, such as root",
            "switch user identity or gain elevated privileges",
        ),
    }
)

#: What a tool without a given capability looks like: the zero-shot reference point.
NEUTRAL_DESCRIPTIONS: tuple[str, ...] = (
    "print information on standard output",
    "read input and write the result to standard output",
    "display text or values; nothing is changed",
)
