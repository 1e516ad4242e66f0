pub mod mock_idp;
