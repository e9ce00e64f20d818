//! Checks on what payers type, the same in the browser and on the server.

use crate::error::AppError;
use crate::profile::validate::Phone;

/// A Kenyan mobile number in any usual form (`0712 345 678`, `+254 712 345678`,
/// `254712345678`, `0110 123456`), returned in M-Pesa's form `2547XXXXXXXX` / `2541XXXXXXXX`.
pub fn mpesa_phone(raw: &str) -> Result<String, AppError> {
    match Phone::parse(raw) {
        Ok(phone) => phone
            .mpesa()
            .ok_or_else(|| AppError::invalid("phone", "payment.phone_not_mpesa")),
        Err("phone.required") => Err(AppError::invalid("phone", "phone.required")),
        Err(_) => Err(AppError::invalid("phone", "payment.phone_not_mpesa")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usual_forms_become_the_mpesa_form() {
        for raw in [
            "0712345678",
            "+254 712 345 678",
            "254712345678",
            "0712-345-678",
        ] {
            assert_eq!(mpesa_phone(raw).unwrap(), "254712345678", "{raw}");
        }
        assert_eq!(mpesa_phone("0110123456").unwrap(), "254110123456");
    }

    #[test]
    fn other_numbers_are_refused_with_a_reason() {
        assert_eq!(
            mpesa_phone(""),
            Err(AppError::invalid("phone", "phone.required"))
        );
        for raw in ["+44 20 7946 0958", "0201234567", "07123", "abc"] {
            assert_eq!(
                mpesa_phone(raw),
                Err(AppError::invalid("phone", "payment.phone_not_mpesa")),
                "{raw}"
            );
        }
    }
}
