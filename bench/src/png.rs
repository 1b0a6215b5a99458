//! A minimal PNG encoder: 8-bit palette images, one zlib stream of a single fixed-Huffman
//! deflate block. Charts are mostly flat colour, so LZ77 with two candidate distances (the
//! previous pixel and the pixel above) compresses them to a few kilobytes.

/// The PNG file signature.
pub const SIGNATURE: [u8; 8] = [137, 80, 78, 71, 13, 10, 26, 10];

/// An image of palette indices.
#[derive(Debug, Clone)]
pub struct Indexed {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Up to 256 RGB colours.
    pub palette: Vec<[u8; 3]>,
    /// `width * height` palette indices, row by row.
    pub pixels: Vec<u8>,
}

impl Indexed {
    /// Encodes the image as a PNG file.
    pub fn encode(&self) -> Vec<u8> {
        assert!(!self.palette.is_empty() && self.palette.len() <= 256);
        assert_eq!(
            self.pixels.len(),
            self.width as usize * self.height as usize
        );
        let mut ihdr = Vec::with_capacity(13);
        ihdr.extend_from_slice(&self.width.to_be_bytes());
        ihdr.extend_from_slice(&self.height.to_be_bytes());
        // Bit depth 8, colour type 3 (palette), deflate, adaptive filtering, no interlace.
        ihdr.extend_from_slice(&[8, 3, 0, 0, 0]);
        // Every scanline with filter type 0 (none).
        let row = self.width as usize;
        let mut raw = Vec::with_capacity((row + 1) * self.height as usize);
        for line in self.pixels.chunks(row.max(1)) {
            raw.push(0);
            raw.extend_from_slice(line);
        }
        let mut out = SIGNATURE.to_vec();
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"PLTE", &self.palette.concat());
        chunk(&mut out, b"IDAT", &zlib(&raw, row + 1));
        chunk(&mut out, b"IEND", &[]);
        out
    }
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// CRC-32 (ISO-HDLC, as PNG and zlib use it).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Adler-32, zlib's checksum.
pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65_521;
        b %= 65_521;
    }
    (b << 16) | a
}

/// Writes bits least significant first, as deflate does.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code: its bits go most significant first.
    fn code(&mut self, code: u32, len: u32) {
        let reversed = code.reverse_bits() >> (32 - len);
        self.put(reversed, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
const MAX_MATCH: usize = 258;
const MAX_DISTANCE: usize = 32_768;

/// A literal/length symbol in deflate's fixed Huffman code.
fn fixed_symbol(bits: &mut Bits, sym: u32) {
    match sym {
        0..=143 => bits.code(0x30 + sym, 8),
        144..=255 => bits.code(0x190 + sym - 144, 9),
        256..=279 => bits.code(sym - 256, 7),
        _ => bits.code(0xC0 + sym - 280, 8),
    }
}

/// The (symbol index, extra bits value) of `value` in a base table.
fn bucket(bases: &[u16], value: usize) -> (usize, u32) {
    let i = bases
        .iter()
        .rposition(|&b| usize::from(b) <= value)
        .unwrap_or(0);
    (i, (value - usize::from(bases[i])) as u32)
}

/// A zlib stream of `data`: one fixed-Huffman block, matches at distance 1 and `stride`.
pub fn zlib(data: &[u8], stride: usize) -> Vec<u8> {
    let mut bits = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE = 01, fixed Huffman
    let mut i = 0;
    while i < data.len() {
        let mut best = (0, 0);
        for distance in [1, stride] {
            if distance == 0 || distance > i || distance > MAX_DISTANCE {
                continue;
            }
            let max = MAX_MATCH.min(data.len() - i);
            let len = (0..max)
                .take_while(|&k| data[i + k] == data[i + k - distance])
                .count();
            if len > best.0 {
                best = (len, distance);
            }
        }
        let (len, distance) = best;
        if len >= 3 {
            let (li, lextra) = bucket(&LENGTH_BASE, len);
            fixed_symbol(&mut bits, 257 + li as u32);
            bits.put(lextra, u32::from(LENGTH_EXTRA[li]));
            let (di, dextra) = bucket(&DIST_BASE, distance);
            bits.code(di as u32, 5);
            bits.put(dextra, u32::from(DIST_EXTRA[di]));
            i += len;
        } else {
            fixed_symbol(&mut bits, u32::from(data[i]));
            i += 1;
        }
    }
    fixed_symbol(&mut bits, 256);
    let mut out = bits.finish();
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads bits least significant first.
    struct Reader<'a> {
        data: &'a [u8],
        pos: usize,
    }

    impl Reader<'_> {
        fn bit(&mut self) -> u32 {
            let b = (self.data[self.pos / 8] >> (self.pos % 8)) & 1;
            self.pos += 1;
            u32::from(b)
        }

        fn bits(&mut self, n: u8) -> u32 {
            (0..n).fold(0, |acc, i| acc | (self.bit() << i))
        }

        /// A Huffman code of `n` bits, most significant first.
        fn code(&mut self, n: u32) -> u32 {
            (0..n).fold(0, |acc, _| (acc << 1) | self.bit())
        }

        fn symbol(&mut self) -> u32 {
            let mut c = self.code(7);
            if c <= 23 {
                return 256 + c;
            }
            c = (c << 1) | self.bit();
            if (0x30..=0xBF).contains(&c) {
                return c - 0x30;
            }
            if (0xC0..=0xC7).contains(&c) {
                return 280 + c - 0xC0;
            }
            c = (c << 1) | self.bit();
            144 + c - 0x190
        }
    }

    /// Inflates the fixed-Huffman zlib streams `zlib` writes.
    fn inflate(stream: &[u8]) -> Vec<u8> {
        assert_eq!(&stream[..2], &[0x78, 0x01]);
        assert_eq!(u16::from_be_bytes([stream[0], stream[1]]) % 31, 0);
        let mut r = Reader {
            data: &stream[2..stream.len() - 4],
            pos: 0,
        };
        assert_eq!(
            (r.bit(), r.bits(2)),
            (1, 1),
            "one final fixed-Huffman block"
        );
        let mut out: Vec<u8> = Vec::new();
        loop {
            let sym = r.symbol();
            match sym {
                0..=255 => out.push(sym as u8),
                256 => break,
                _ => {
                    let li = (sym - 257) as usize;
                    let len = usize::from(LENGTH_BASE[li]) + r.bits(LENGTH_EXTRA[li]) as usize;
                    let di = r.code(5) as usize;
                    let dist = usize::from(DIST_BASE[di]) + r.bits(DIST_EXTRA[di]) as usize;
                    for _ in 0..len {
                        out.push(out[out.len() - dist]);
                    }
                }
            }
        }
        let adler = u32::from_be_bytes(stream[stream.len() - 4..].try_into().unwrap());
        assert_eq!(adler, adler32(&out));
        out
    }

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn zlib_round_trips() {
        let mut data: Vec<u8> = (0..=255).collect();
        data.extend(std::iter::repeat_n(7, 1000));
        data.extend((0..3000).map(|i| (i % 40) as u8));
        data.extend(std::iter::repeat_n(200, 70_000));
        for stride in [1, 41, 300] {
            let z = zlib(&data, stride);
            assert_eq!(inflate(&z), data);
        }
        assert!(zlib(&data, 41).len() < data.len() / 10);
        assert_eq!(inflate(&zlib(&[], 1)), Vec::<u8>::new());
    }

    #[test]
    fn png_chunks_are_well_formed() {
        let img = Indexed {
            width: 3,
            height: 2,
            palette: vec![[0, 0, 0], [255, 255, 255]],
            pixels: vec![0, 1, 0, 1, 1, 1],
        };
        let png = img.encode();
        assert_eq!(&png[..8], &SIGNATURE);
        let mut pos = 8;
        let mut kinds = Vec::new();
        let mut idat = Vec::new();
        while pos < png.len() {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let body = &png[pos + 4..pos + 8 + len];
            let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            assert_eq!(crc, crc32(body));
            kinds.push(String::from_utf8(body[..4].to_vec()).unwrap());
            if &body[..4] == b"IDAT" {
                idat.extend_from_slice(&body[4..]);
            }
            if &body[..4] == b"IHDR" {
                assert_eq!(&body[4..17], &[0, 0, 0, 3, 0, 0, 0, 2, 8, 3, 0, 0, 0]);
            }
            pos += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "PLTE", "IDAT", "IEND"]);
        assert_eq!(inflate(&idat), [0, 0, 1, 0, 0, 1, 1, 1]);
    }
}
