//! serde's views of gob composites: slice and array elements, map entries, struct fields (with
//! zero values for omitted ones), and an interface value as a one-entry map.

use std::io::Read;
use std::sync::Arc;

use serde::de::value::{StrDeserializer, StringDeserializer};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess};

use super::Decoder;
use super::value::ValueDe;
use crate::gob::GobError;
use crate::gob::types::WireField;
use crate::gob::wire::take_uint;

/// Reads the next field delta of a struct value after field `field`: `None` at the end mark.
pub(super) fn next_field(
    buf: &[u8],
    pos: &mut usize,
    field: i64,
    fields: &[WireField],
) -> Result<Option<usize>, GobError> {
    let delta = take_uint(buf, pos)?;
    if delta == 0 {
        return Ok(None);
    }
    let next = u64::try_from(field + 1)
        .ok()
        .and_then(|f| f.checked_add(delta - 1))
        .filter(|n| *n < fields.len() as u64)
        .ok_or_else(|| {
            GobError::Malformed(format!(
                "a struct value names field {} + {delta} of {} fields",
                field,
                fields.len()
            ))
        })?;
    Ok(Some(next as usize))
}

/// The elements of a slice or array.
pub(super) struct Elements<'a, R> {
    pub(super) dec: &'a mut Decoder<R>,
    pub(super) elem: i32,
    pub(super) left: usize,
    pub(super) depth: usize,
    pub(super) zero: bool,
}

impl<R: Read> Elements<'_, R> {
    /// Skips elements the visitor did not take.
    pub(super) fn finish(self) -> Result<(), GobError> {
        for _ in 0..self.left {
            if !self.zero {
                self.dec.skip_value(self.elem, self.depth + 1)?;
            }
        }
        Ok(())
    }
}

impl<'de, R: Read> SeqAccess<'de> for Elements<'_, R> {
    type Error = GobError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, GobError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(ValueDe::at(self.dec, self.elem, self.depth + 1, self.zero)?)
            .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// The entries of a map.
pub(super) struct Entries<'a, R> {
    pub(super) dec: &'a mut Decoder<R>,
    pub(super) key: i32,
    pub(super) elem: i32,
    pub(super) left: usize,
    pub(super) depth: usize,
    pub(super) zero: bool,
}

impl<R: Read> Entries<'_, R> {
    pub(super) fn finish(self) -> Result<(), GobError> {
        for _ in 0..self.left {
            self.dec.skip_value(self.key, self.depth + 1)?;
            self.dec.skip_value(self.elem, self.depth + 1)?;
        }
        Ok(())
    }
}

impl<'de, R: Read> MapAccess<'de> for Entries<'_, R> {
    type Error = GobError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GobError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(ValueDe::at(self.dec, self.key, self.depth + 1, self.zero)?)
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GobError> {
        seed.deserialize(ValueDe::at(self.dec, self.elem, self.depth + 1, self.zero)?)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// The fields of a struct value, offered by name in the peer's order; fields the peer's
/// type has but did not send come as zero values.
pub(super) struct Fields<'a, R> {
    pub(super) dec: &'a mut Decoder<R>,
    pub(super) fields: Arc<[WireField]>,
    /// The next field to offer.
    pub(super) index: usize,
    /// The next field present in the input.
    pub(super) next: Option<usize>,
    pub(super) depth: usize,
}

impl<R: Read> Fields<'_, R> {
    /// Skips present fields the visitor did not take.
    pub(super) fn finish(mut self) -> Result<(), GobError> {
        while let Some(next) = self.next {
            self.dec.skip_value(self.fields[next].id, self.depth + 1)?;
            self.next = next_field(&self.dec.buf, &mut self.dec.pos, next as i64, &self.fields)?;
        }
        Ok(())
    }
}

impl<'de, R: Read> MapAccess<'de> for Fields<'_, R> {
    type Error = GobError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GobError> {
        let Some(field) = self.fields.get(self.index) else {
            return Ok(None);
        };
        seed.deserialize(StrDeserializer::<GobError>::new(&field.name))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GobError> {
        let index = self.index;
        let id = self
            .fields
            .get(index)
            .map(|f| f.id)
            .ok_or_else(|| GobError::Custom("a field value without its name".into()))?;
        self.index += 1;
        if self.next != Some(index) {
            return seed.deserialize(ValueDe::at(self.dec, id, self.depth + 1, true)?);
        }
        let value = seed.deserialize(ValueDe::at(self.dec, id, self.depth + 1, false)?)?;
        self.next = next_field(&self.dec.buf, &mut self.dec.pos, index as i64, &self.fields)?;
        Ok(value)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.fields.len() - self.index)
    }
}

/// An interface value as a one-entry map: the concrete type's Go name, then its value.
pub(super) struct Concrete<'a, R> {
    pub(super) dec: &'a mut Decoder<R>,
    pub(super) name: Option<String>,
    pub(super) id: i32,
    pub(super) depth: usize,
}

impl<'de, R: Read> MapAccess<'de> for Concrete<'_, R> {
    type Error = GobError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, GobError> {
        match self.name.take() {
            Some(name) => seed
                .deserialize(StringDeserializer::<GobError>::new(name))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, GobError> {
        self.dec.value(self.id, seed, self.depth)
    }
}
