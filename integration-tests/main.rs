mod mock_idp;
