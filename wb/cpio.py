"""Write initramfs archives in the kernel's "newc" cpio format.

The kernel unpacks several archives concatenated into one initrd, so a
run's own files go into a small archive appended to the prepared one.
"""
import os
import stat

TRAILER = 'TRAILER!!!'


class Archive:
    def __init__(self):
        self.entries = []   # (name, mode, data, rdev)
        self.dirs = set()

    def _parents(self, name):
        parts = name.split('/')[:-1]
        for i in range(1, len(parts) + 1):
            d = '/'.join(parts[:i])
            if d not in self.dirs:
                self.dir(d)

    def dir(self, name, mode=0o755):
        name = name.strip('/')
        if name in self.dirs:
            return
        self.dirs.add(name)
        self._parents(name)
        self.entries.append((name, stat.S_IFDIR | mode, b'', 0))

    def file(self, name, data, mode=0o644):
        name = name.strip('/')
        self._parents(name)
        if isinstance(data, str):
            data = data.encode()
        self.entries.append((name, stat.S_IFREG | mode, data, 0))

    def copy(self, name, path, mode=None):
        with open(path, 'rb') as f:
            data = f.read()
        if mode is None:
            mode = os.stat(path).st_mode & 0o777
        self.file(name, data, mode)

    def copytree(self, name, path):
        for top, dirs, files in os.walk(path):
            rel = os.path.relpath(top, path)
            base = name if rel == '.' else name + '/' + rel
            self.dir(base)
            for f in sorted(files):
                self.copy(base + '/' + f, os.path.join(top, f))

    def symlink(self, name, target):
        name = name.strip('/')
        self._parents(name)
        self.entries.append((name, stat.S_IFLNK | 0o777, target.encode(), 0))

    def chardev(self, name, major, minor, mode=0o600):
        name = name.strip('/')
        self._parents(name)
        self.entries.append((name, stat.S_IFCHR | mode, b'', (major, minor)))

    def bytes(self):
        out = bytearray()
        for ino, (name, mode, data, rdev) in enumerate(
                self.entries + [(TRAILER, 0, b'', 0)], start=1):
            out += header(ino, name, mode, len(data), rdev)
            out += data
            out += b'\0' * (-len(out) % 4)
        out += b'\0' * (-len(out) % 512)
        return bytes(out)

    def write(self, path):
        with open(path, 'wb') as f:
            f.write(self.bytes())


def header(ino, name, mode, size, rdev):
    major, minor = rdev if rdev else (0, 0)
    fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, major, minor,
              len(name) + 1, 0]
    h = b'070701' + b''.join(b'%08x' % v for v in fields)
    h += name.encode() + b'\0'
    return h + b'\0' * (-len(h) % 4)
